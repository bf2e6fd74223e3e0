{#-
    Null-safe key from parts: nulls become '~' so (a, null) and (a, '') stay distinct and the key is
    never null. Stands in for dbt_utils.generate_surrogate_key's input side (no hub packages offline).
-#}
{% macro concat_ws_nullsafe(separator, expressions) -%}
    {%- for expression in expressions -%}
        coalesce(cast({{ expression }} as varchar), '~'){% if not loop.last %} || {{ separator }} || {% endif %}
    {%- endfor -%}
{%- endmacro %}
