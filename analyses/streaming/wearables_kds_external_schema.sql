{#- The external schema over Kinesis Data Streams as Redshift runs it (macro create_wearables_kds_external_schema),
    compiled with the wearables models for the offline Redshift check. Empty on DuckDB. -#}
{{ config(tags=['wearables']) }}

{{ wearables_kds_external_schema_sql() }}
