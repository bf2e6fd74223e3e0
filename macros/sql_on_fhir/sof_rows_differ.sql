{#- Rows of `expected` missing from `actual` and the reverse, plus a row when the counts differ. -#}
{% macro sof_rows_differ(expected, actual) %}
with expected_only as (

    select * from {{ expected }}
    except
    select * from {{ actual }}

),

actual_only as (

    select * from {{ actual }}
    except
    select * from {{ expected }}

),

row_counts as (

    select
        (select count(*) from {{ expected }}) as expected_rows,
        (select count(*) from {{ actual }}) as actual_rows

)

select 'only in {{ expected.identifier }}' as difference, count(*) as row_count from expected_only
having count(*) > 0
union all
select 'only in {{ actual.identifier }}' as difference, count(*) as row_count from actual_only
having count(*) > 0
union all
select 'row counts differ' as difference, expected_rows - actual_rows as row_count from row_counts
where expected_rows <> actual_rows
{% endmacro %}
