{#-
    FHIR dates and dateTimes arrive as strings and may be partial ("1980", "1980-05"). Partial values
    become null here (the raw string stays available in staging); full ones become date / UTC timestamp.
-#}
{% macro fhir_date(text_expr) %}
    {{- return(adapter.dispatch('fhir_date', 'patient360')(text_expr)) -}}
{% endmacro %}

{#- Redshift: the input may be a SUPER path (cast first). TO_DATE is not strict by default and rolls
    2021-02-30 over to March 2 (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_DATE_function.html),
    so the date is kept only when it survives the round trip: null, like DuckDB's try_cast. -#}
{% macro redshift__fhir_date(text_expr) -%}
    {%- set text = fhir_text(text_expr) -%}
    case
        when
            regexp_instr({{ text }}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}') = 1
            and to_char(to_date(left({{ text }}, 10), 'YYYY-MM-DD'), 'YYYY-MM-DD') = left({{ text }}, 10)
            then to_date(left({{ text }}, 10), 'YYYY-MM-DD')
    end
{%- endmacro %}

{% macro duckdb__fhir_date(text_expr) -%}
    try_cast(left({{ text_expr }}, 10) as date)
{%- endmacro %}


{% macro fhir_timestamp(text_expr) %}
    {{- return(adapter.dispatch('fhir_timestamp', 'patient360')(text_expr)) -}}
{% endmacro %}

{% macro redshift__fhir_timestamp(text_expr) -%}
    {%- set text = fhir_text(text_expr) -%}
    case
        when regexp_instr({{ text }}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}') = 1
            then cast(convert_timezone('UTC', cast({{ text }} as timestamptz)) as timestamp)
    end
{%- endmacro %}

{% macro duckdb__fhir_timestamp(text_expr) -%}
    timezone('UTC', try_cast({{ text_expr }} as timestamptz))
{%- endmacro %}
