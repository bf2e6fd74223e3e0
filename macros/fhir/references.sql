{#-
    The id inside a FHIR reference string: "Patient/123" -> "123". One place for it, so relative,
    absolute ("https://x/fhir/Patient/123") and versioned ("Patient/123/_history/2") references agree.
-#}
{% macro fhir_reference_id(reference_expr, resource_type='Patient') %}
    {{- return(adapter.dispatch('fhir_reference_id', 'patient360')(reference_expr, resource_type)) -}}
{% endmacro %}

{% macro redshift__fhir_reference_id(reference_expr, resource_type) -%}
    {#- the reference is a SUPER path on Redshift: a string function needs varchar -#}
    nullif(regexp_substr({{ fhir_text(reference_expr) }}, '{{ resource_type }}/([A-Za-z0-9.-]+)', 1, 1, 'e'), '')
{%- endmacro %}

{% macro duckdb__fhir_reference_id(reference_expr, resource_type) -%}
    nullif(regexp_extract({{ reference_expr }}, '{{ resource_type }}/([A-Za-z0-9.-]+)', 1), '')
{%- endmacro %}
