{#-
    A value navigated out of a HealthLake nested column (struct field, array element) is SUPER on Redshift
    until cast, and lax mode turns a wrong path into a silent NULL; a SUPER reaching a contract column, a
    join key or a string function fails or misbehaves. So every navigated value goes through one of these
    before use (https://docs.aws.amazon.com/redshift/latest/dg/querying-iceberg-supported-data-types.html).
    DuckDB's structs are typed already: the value passes through unchanged.
-#}
{% macro fhir_text(path_expr) %}
    {{- return(adapter.dispatch('fhir_text', 'patient360')(path_expr)) -}}
{% endmacro %}

{#- varchar(65535): a length-less varchar in a cast is 256 bytes and would truncate free text. -#}
{% macro redshift__fhir_text(path_expr) -%}
    cast({{ path_expr }} as varchar(65535))
{%- endmacro %}

{% macro default__fhir_text(path_expr) -%}
    {{ path_expr }}
{%- endmacro %}


{% macro fhir_number(path_expr) %}
    {{- return(adapter.dispatch('fhir_number', 'patient360')(path_expr)) -}}
{% endmacro %}

{% macro redshift__fhir_number(path_expr) -%}
    cast({{ path_expr }} as float8)
{%- endmacro %}

{% macro default__fhir_number(path_expr) -%}
    {{ path_expr }}
{%- endmacro %}
