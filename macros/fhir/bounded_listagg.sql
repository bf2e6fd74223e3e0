{#-
    One row per `key`: its distinct `value`s, '; '-separated in order, within Redshift's LISTAGG limit. LISTAGG
    fails a query whose result passes 65,535 bytes (https://docs.aws.amazon.com/redshift/latest/dg/r_LISTAGG.html),
    so the list holds at most 60 values of at most 200 characters: 60 x (200 x 4 bytes + 2) = 48,120 bytes.
    Counts are computed apart, complete.
-#}
{% macro bounded_listagg(relation, key, value, alias, where='true') %}
    {%- set max_values = 60 -%}
    {%- set max_characters = 200 -%}
    select
        {{ key }},
        {{ listagg(value, "'; '", 'order by ' ~ value) }} as {{ alias }}
    from (
        select
            {{ key }},
            {{ value }},
            row_number() over (partition by {{ key }} order by {{ value }}) as list_position
        from (
            select distinct
                {{ key }},
                left({{ value }}, {{ max_characters }}) as {{ value }}
            from {{ relation }}
            where {{ value }} is not null and {{ where }}
        ) as distinct_values
    ) as ranked_values
    where list_position <= {{ max_values }}
    group by {{ key }}
{%- endmacro %}
