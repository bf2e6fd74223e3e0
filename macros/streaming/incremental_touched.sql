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
