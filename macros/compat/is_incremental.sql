{#- is_incremental() with an offline switch: var p360_force_incremental = true/false decides without
    asking the warehouse (offline compile for Redshift); unset, dbt's own logic runs. -#}
{% macro is_incremental() %}
    {%- set forced = var('p360_force_incremental', none) -%}
    {%- if forced is not none -%}
        {{ return(forced in (true, 'true', 'True', 1, '1')) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}
