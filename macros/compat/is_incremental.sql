{#-
    Override of dbt's is_incremental(): when var `p360_force_incremental` is set (true/false), answer it
    without asking the warehouse. The offline Redshift check compiles both branches with no cluster
    (`dbt compile --no-populate-cache`); otherwise this is dbt's own is_incremental().
-#}
{% macro is_incremental() %}
    {%- set forced = var('p360_force_incremental', none) -%}
    {%- if forced is not none -%}
        {{ return(forced | string | lower in ['true', '1', 'yes']) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}
