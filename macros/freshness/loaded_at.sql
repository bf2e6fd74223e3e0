{#-
    The loaded-at time `dbt source freshness` reads for the sources that are not plain tables with a
    loaded-at column. Both return one naive UTC timestamp.
-#}

{#- Front desk (zero-ETL): when the integration last applied a change to the table
    (SVV_INTEGRATION_TABLE_STATE.last_updated_timestamp on Redshift, the replicator's copy locally). On Redshift
    a user without ACCESS SYSTEM TABLE reads no row and gets NULL here: the dbt test
    assert_front_desk_integration_state_readable fails loudly in that case. -#}
{% macro zero_etl_loaded_at_query(zetl_db, schema_name, table_name) -%}
    {{- return(adapter.dispatch('zero_etl_loaded_at_query', 'patient360')(zetl_db, schema_name, table_name)) -}}
{%- endmacro %}

{% macro default__zero_etl_loaded_at_query(zetl_db, schema_name, table_name) -%}
    select max(cast(integration_state.last_updated_timestamp as timestamp))
    from {{ zero_etl_integration_table_state(zetl_db) }} as integration_state
    where
        trim(integration_state.schema_name) = '{{ schema_name }}'
        and trim(integration_state.table_name) = '{{ table_name }}'
{%- endmacro %}

{% macro duckdb__zero_etl_loaded_at_query(zetl_db, schema_name, table_name) -%}
    {#- timestamptz locally: to naive UTC whatever the session time zone -#}
    select max(timezone('UTC', integration_state.last_updated_timestamp))
    from {{ zero_etl_integration_table_state(zetl_db) }} as integration_state
    where
        trim(integration_state.schema_name) = '{{ schema_name }}'
        and trim(integration_state.table_name) = '{{ table_name }}'
{%- endmacro %}


{#- Wearable stream: the latest refresh_time (when the refresh that landed a record ran). Redshift does not
    let a query read a Kafka external schema directly, only its streaming materialized view (the base model);
    locally the landing table has the same column. -#}
{% macro wearables_stream_loaded_at_query(source_relation, streaming_view_name='base_wearables__stream') -%}
    {{- return(adapter.dispatch('wearables_stream_loaded_at_query', 'patient360')(source_relation, streaming_view_name)) -}}
{%- endmacro %}

{% macro redshift__wearables_stream_loaded_at_query(source_relation, streaming_view_name) -%}
    {%- set streaming_view = api.Relation.create(
        database=target.database,
        schema=generate_schema_name('staging', none) | trim,
        identifier=streaming_view_name,
    ) -%}
    select max(stream_record.refresh_time) from {{ streaming_view }} as stream_record
{%- endmacro %}

{% macro default__wearables_stream_loaded_at_query(source_relation, streaming_view_name) -%}
    select max(stream_record.refresh_time) from {{ source_relation }} as stream_record
{%- endmacro %}
