{#-
    Left-outer un-nesting of a FHIR array (the reference query's `LEFT JOIN t.arr x ON TRUE`): a parent
    row with an empty or absent array is kept once, with nulls. `alias` names the element (a struct's
    fields are `alias.field`); `index_alias`, when given, is the 0-based position in the array.
-#}
{% macro left_join_unnest(array_expr, alias, index_alias=none) %}
    {{- return(adapter.dispatch('left_join_unnest', 'patient360')(array_expr, alias, index_alias)) -}}
{% endmacro %}

{% macro redshift__left_join_unnest(array_expr, alias, index_alias) -%}
    left join {{ array_expr }} as {{ alias }}{% if index_alias %} at {{ index_alias }}{% endif %} on true
{%- endmacro %}

{% macro duckdb__left_join_unnest(array_expr, alias, index_alias) -%}
    left join lateral (
        select
            unnest({{ array_expr }}) as {{ alias }}
            {%- if index_alias %},
            generate_subscripts({{ array_expr }}, 1) - 1 as {{ index_alias }}
            {%- endif %}
    ) as {{ alias }} on true
{%- endmacro %}


{#- First element of a FHIR array, or null when empty/absent (PartiQL is 0-based, DuckDB 1-based). -#}
{% macro fhir_first(array_expr) %}
    {{- return(adapter.dispatch('fhir_first', 'patient360')(array_expr)) -}}
{% endmacro %}

{% macro redshift__fhir_first(array_expr) -%}
    {{ array_expr }}[0]
{%- endmacro %}

{% macro duckdb__fhir_first(array_expr) -%}
    {{ array_expr }}[1]
{%- endmacro %}
