{#-
    HealthLake stores `extension` as an array of JSON strings with the original camelCase keys, so
    extension values are read with JSON functions on the string (Redshift SUPER navigation would
    lowercase the camelCase keys unless the session enables case-sensitive identifiers).
-#}

{#- Text at a key path of a JSON string, null when absent or not JSON. -#}
{% macro fhir_json_text(json_text_expr, keys) %}
    {{- return(adapter.dispatch('fhir_json_text', 'patient360')(json_text_expr, keys)) -}}
{% endmacro %}

{% macro redshift__fhir_json_text(json_text_expr, keys) -%}
    nullif(json_extract_path_text({{ json_text_expr }}, '{{ keys | join("', '") }}', true), '')
{%- endmacro %}

{% macro duckdb__fhir_json_text(json_text_expr, keys) -%}
    json_extract_string({{ json_text_expr }}, '$.{{ keys | join(".") }}')
{%- endmacro %}


{#-
    Value of the sub-extension with url `sub_url` inside a complex extension (JSON string), e.g. the
    "text" of US Core race: {"url": ".../us-core-race", "extension": [{"url": "text", "valueString": ...}]}.
-#}
{% macro fhir_subextension_value(extension_json_expr, sub_url, value_key) %}
    {{- return(adapter.dispatch('fhir_subextension_value', 'patient360')(extension_json_expr, sub_url, value_key)) -}}
{% endmacro %}

{% macro redshift__fhir_subextension_value(extension_json_expr, sub_url, value_key) -%}
    {#- Redshift cannot iterate a JSON array held in a varchar: probe positions 0..n-1 (var). -#}
    {%- set sub_extensions = "json_extract_path_text(" ~ extension_json_expr ~ ", 'extension', true)" -%}
    coalesce(
        {%- for position in range(var('fhir_max_subextensions', 12)) %}
        {%- set element = "json_extract_array_element_text(" ~ sub_extensions ~ ", " ~ position ~ ", true)" %}
        case
            when json_extract_path_text({{ element }}, 'url', true) = '{{ sub_url }}'
                then nullif(json_extract_path_text({{ element }}, '{{ value_key }}', true), '')
        end{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__fhir_subextension_value(extension_json_expr, sub_url, value_key) -%}
    json_extract_string(
        list_filter(
            cast(json_extract({{ extension_json_expr }}, '$.extension') as json []),
            lambda sub: json_extract_string(sub, '$.url') = '{{ sub_url }}'
        )[1],
        '$.{{ value_key }}'
    )
{%- endmacro %}
