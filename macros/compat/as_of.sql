{#-
    "Now" for time-relative measures (next appointment, activity in the last 7 days): var `as_of`
    ('YYYY-MM-DD HH:MM:SS') when set, so a build over simulated or historical data is reproducible;
    otherwise the warehouse clock.
-#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is none -%}
        cast({{ dbt.current_timestamp() }} as timestamp)
    {%- else -%}
        cast('{{ as_of }}' as timestamp)
    {%- endif -%}
{%- endmacro %}
