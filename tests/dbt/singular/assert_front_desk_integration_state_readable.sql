{#- Fails (error) when the zero-ETL integration state cannot be read: on Redshift a dbt user without the
    ACCESS SYSTEM TABLE permission reads 0 rows from SVV_INTEGRATION_TABLE_STATE, which would make
    assert_front_desk_replica_synced and the front-desk freshness pass while checking nothing. -#}
{%- set zetl_db = var('zetl_db', env_var('P360_ZETL_DB', 'front_desk_zetl')) -%}
{{ zero_etl_state_unreadable_rows(zetl_db) }}
