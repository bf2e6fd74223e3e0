{#- One row per table of the front-desk zero-ETL integration: Synced / Failed / ResyncRequired and why. -#}
{%- set zetl_db = var('zetl_db', env_var('P360_ZETL_DB', 'front_desk_zetl')) -%}
with integration_tables as (

    select * from {{ zero_etl_integration_table_state(zetl_db) }} as integration_state

)

select
    trim(integration_id) as integration_id,
    trim(schema_name) as source_schema_name,
    trim(table_name) as source_table_name,
    trim(table_state) as table_state,
    trim(reason) as reason,
    trim(table_last_replicated_checkpoint) as table_last_replicated_checkpoint,
    cast(last_updated_timestamp as timestamp) as last_updated_at,
    table_rows
from integration_tables
where trim(schema_name) = 'front_desk_app_db'
