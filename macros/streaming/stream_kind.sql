{#- Where the wearable stream lives: 'msk' (Kafka, the default) or 'kinesis' (Kinesis Data Streams, the
    reference solution's stream). One setting, P360_STREAM_KIND (dbt var stream_kind), picks the base streaming
    views; from stg_wearables__records on, both kinds give the same columns, and records are ordered and
    deduplicated by (shard_id, sequence_number): a Kinesis shard and sequence number, or for MSK the
    partition as 'partition-0000000003' and the offset. -#}
{% macro wearables_stream_kind() %}
    {%- set kind = var('stream_kind', env_var('P360_STREAM_KIND', 'msk')) -%}
    {%- if kind not in ['msk', 'kinesis'] -%}
        {{ exceptions.raise_compiler_error("stream_kind / P360_STREAM_KIND must be msk or kinesis, got '" ~ kind ~ "'") }}
    {%- endif -%}
    {{ return(kind) }}
{% endmacro %}

{#- Sequence numbers (Kinesis: decimal strings of up to 128 digits) and offsets, zero-padded to 128
    characters: as text they then sort, compare and max() like the numbers they are, on both warehouses. -#}
{% macro stream_sequence_position(number_text) -%}
    cast(lpad(cast({{ number_text }} as varchar(128)), 128, '0') as varchar(128))
{%- endmacro %}

{#- An MSK partition as a shard id that sorts like the partition number. -#}
{% macro msk_partition_shard_id(partition) -%}
    cast('partition-' || lpad(cast({{ partition }} as varchar(10)), 10, '0') as varchar(20))
{%- endmacro %}

{#- (shard_id, sequence_number, refresh_time) of every record of the stream, read through its streaming view:
    Redshift reads a stream only through a streaming materialized view
    (https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html). -#}
{% macro wearables_stream_positions() %}
    {%- if wearables_stream_kind() == 'kinesis' -%}
    select
        shard_id,
        {{ stream_sequence_position('sequence_number') }} as sequence_number,
        refresh_time
    from {{ ref('base_wearables__kds_stream') }}
    {%- else -%}
    select
        {{ msk_partition_shard_id('kafka_partition') }} as shard_id,
        {{ stream_sequence_position('kafka_offset') }} as sequence_number,
        refresh_time
    from {{ ref('base_wearables__stream') }}
    {%- endif -%}
{% endmacro %}


{#- Redshift: the external schema over Kinesis Data Streams (the reference solution's `from_kds`), IAM role
    P360_KDS_IAM_ROLE_ARN ('default' = the cluster's default IAM role). Run once per database:
    dbt run-operation create_wearables_kds_external_schema --target redshift
    https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion-getting-started.html
    Locally the landing file is attached by the profile instead. -#}
{% macro wearables_kds_external_schema_sql() %}
    {{ return(adapter.dispatch('wearables_kds_external_schema_sql')()) }}
{% endmacro %}

{% macro redshift__wearables_kds_external_schema_sql() -%}
    {%- set schema = var('wearables_kds_schema', env_var('P360_WEARABLES_KDS_SCHEMA', 'from_kds')) -%}
    {%- set role = var('wearables_kds_iam_role_arn', env_var('P360_KDS_IAM_ROLE_ARN', 'default')) -%}
    {#- quoted only when it must be: Redshift folds unquoted names to lowercase -#}
    {%- set plain = schema == schema.lower() and schema.replace('_', '').isalnum() and not schema[0].isdigit() %}
create external schema if not exists {{ schema if plain else adapter.quote(schema) }}
from kinesis
iam_role {% if role == 'default' %}default{% else %}'{{ role }}'{% endif %}
{%- endmacro %}

{% macro default__wearables_kds_external_schema_sql() %}
    {{ return('') }}
{% endmacro %}

{% macro create_wearables_kds_external_schema() %}
    {%- set ddl = wearables_kds_external_schema_sql() -%}
    {%- if not ddl | trim -%}
        {{ log("target " ~ target.type ~ ": no external schema needed (the landing file is attached)", info=true) }}
    {%- else -%}
        {%- do run_query(ddl) -%}
        {{ log("external schema over Kinesis for the wearable stream is ready", info=true) }}
    {%- endif -%}
{% endmacro %}
