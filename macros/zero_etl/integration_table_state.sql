{#-
    Where a zero-ETL integration reports the state of each replicated table. Redshift: the system view
    SVV_INTEGRATION_TABLE_STATE (one row per table of each integration, filtered to the integration's
    database). Locally: the table the binlog replicator keeps beside the replica, same column names.
-#}
{% macro zero_etl_integration_table_state(zetl_db) -%}
    {{- return(adapter.dispatch('zero_etl_integration_table_state', 'patient360')(zetl_db)) -}}
{%- endmacro %}

{#- Both sides expose the same columns; only where they live differs. -#}
{% macro _integration_table_state_select(from_clause) -%}
    (
        select
            integration_id,
            target_database,
            schema_name,
            table_name,
            table_state,
            table_last_replicated_checkpoint,
            reason,
            last_updated_timestamp,
            table_rows
        {{ from_clause }}
    )
{%- endmacro %}

{#- Schema-qualified: a late-binding view (staging) must qualify every relation it names, system views included. -#}
{% macro redshift__zero_etl_integration_table_state(zetl_db) -%}
    {{ _integration_table_state_select(
        "from pg_catalog.svv_integration_table_state where target_database = '" ~ zetl_db ~ "'"
    ) }}
{%- endmacro %}

{% macro duckdb__zero_etl_integration_table_state(zetl_db) -%}
    {{ _integration_table_state_select('from ' ~ zetl_db ~ '.zero_etl_metadata.integration_table_state') }}
{%- endmacro %}


{#-
    SVV_INTEGRATION_TABLE_STATE is visible only to superusers: any other user reads 0 rows, so a staleness check
    over it would pass while checking nothing (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_INTEGRATION_TABLE_STATE.html).
    The dbt user needs the system permission (README "Redshift: grants"):  GRANT ACCESS SYSTEM TABLE TO ROLE <dbt role>.
    Renders the rows that say the state cannot be read: none when the integration's database has state rows.
    Locally the replicator's table is a plain table every user reads: nothing to check.
-#}
{% macro zero_etl_state_unreadable_rows(zetl_db) -%}
    {{- return(adapter.dispatch('zero_etl_state_unreadable_rows', 'patient360')(zetl_db)) -}}
{%- endmacro %}

{% macro redshift__zero_etl_state_unreadable_rows(zetl_db) -%}
    select
        '{{ zetl_db }}' as target_database,
        'svv_integration_table_state returned no row: grant ACCESS SYSTEM TABLE to the dbt user' as problem
    from (
        select count(*) as state_rows
        from pg_catalog.svv_integration_table_state
        where target_database = '{{ zetl_db }}'
    ) as visible_state
    where visible_state.state_rows = 0
{%- endmacro %}

{% macro default__zero_etl_state_unreadable_rows(zetl_db) -%}
    select
        cast(null as varchar) as target_database,
        cast(null as varchar) as problem
    where false
{%- endmacro %}
