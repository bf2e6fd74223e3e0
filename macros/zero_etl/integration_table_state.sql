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

{% macro redshift__zero_etl_integration_table_state(zetl_db) -%}
    {{ _integration_table_state_select(
        "from svv_integration_table_state where target_database = '" ~ zetl_db ~ "'"
    ) }}
{%- endmacro %}

{% macro duckdb__zero_etl_integration_table_state(zetl_db) -%}
    {{ _integration_table_state_select('from ' ~ zetl_db ~ '.zero_etl_metadata.integration_table_state') }}
{%- endmacro %}
