{#- Incremental re-aggregation, as CTEs: `<name>` holds the rows of `relation` (a CTE) in every group (e.g.
    patient and minute) that has at least one row loaded after max(source_loaded_at) of {{ this }}; on a
    full build, every row. The model deletes and re-inserts those groups (incremental_strategy=
    'delete+insert', unique_key = keys). Renders `touched_<name> as (...), <name> as (...)` or `<name> as (...)`:
    call it where a CTE definition goes, followed by a comma when more CTEs follow. -#}
{% macro rows_of_touched_groups(name, relation, keys, loaded_at_column) %}
    {%- if is_incremental() %}
touched_{{ name }} as (

    select distinct {{ keys | join(', ') }}
    from {{ relation }}
    where {{ loaded_at_column }} > (
        select coalesce(max(already_loaded.source_loaded_at), cast('1900-01-01' as timestamp))
        from {{ this }} as already_loaded
    )

),

{{ name }} as (

    select {{ relation }}.*
    from {{ relation }}
    inner join touched_{{ name }}
        on
        {%- for key in keys %}
            {{ 'and ' if not loop.first }}{{ relation }}.{{ key }} = touched_{{ name }}.{{ key }}
        {%- endfor %}

)
    {%- else %}
{{ name }} as (

    select * from {{ relation }}

)
    {%- endif %}
{% endmacro %}

{#- The earliest group a new load can touch: min(group_expression) over the rows of `relation` loaded after
    max(source_loaded_at) of {{ this }} (columns qualified by `recently_loaded`). A model bounds its input with `<time column> >= <this>` before
    rows_of_touched_groups, so an incremental run reads the recent rows instead of the whole history (the
    scan prunes on the bound). Exact: every row of a touched group is at or after the group's start. -#}
{% macro earliest_touched_group(relation, group_expression, loaded_at_column) -%}
    (
        select min({{ group_expression }})
        from {{ relation }} as recently_loaded
        where recently_loaded.{{ loaded_at_column }} > (
            select coalesce(max(already_loaded.source_loaded_at), cast('1900-01-01' as timestamp))
            from {{ this }} as already_loaded
        )
    )
{%- endmacro %}
