{#- Whole years between two dates (age), the same on every warehouse: no datediff boundary counting. -#}
{% macro age_in_years(birth_date, as_of_date) -%}
    cast(floor(
        (
            (extract(year from {{ as_of_date }}) * 10000 + extract(month from {{ as_of_date }}) * 100
                + extract(day from {{ as_of_date }}))
            - (extract(year from {{ birth_date }}) * 10000 + extract(month from {{ birth_date }}) * 100
                + extract(day from {{ birth_date }}))
        ) / 10000.0
    ) as integer)
{%- endmacro %}
