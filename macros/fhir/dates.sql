{#-
    FHIR dates and dateTimes arrive as strings and may be partial ("1980", "1980-05"). Partial values
    become null here (the raw string stays available in staging); full ones become date / UTC timestamp.
-#}
{% macro fhir_date(text_expr) %}
    {{- return(adapter.dispatch('fhir_date', 'patient360')(text_expr)) -}}
{% endmacro %}

{% macro redshift__fhir_date(text_expr) -%}
    case
        when regexp_instr({{ text_expr }}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}') = 1
            then to_date(left({{ text_expr }}, 10), 'YYYY-MM-DD')
    end
{%- endmacro %}

{% macro duckdb__fhir_date(text_expr) -%}
    try_cast(left({{ text_expr }}, 10) as date)
{%- endmacro %}


{% macro fhir_timestamp(text_expr) %}
    {{- return(adapter.dispatch('fhir_timestamp', 'patient360')(text_expr)) -}}
{% endmacro %}

{% macro redshift__fhir_timestamp(text_expr) -%}
    case
        when regexp_instr({{ text_expr }}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}') = 1
            then cast(convert_timezone('UTC', cast({{ text_expr }} as timestamptz)) as timestamp)
    end
{%- endmacro %}

{% macro duckdb__fhir_timestamp(text_expr) -%}
    timezone('UTC', try_cast({{ text_expr }} as timestamptz))
{%- endmacro %}
