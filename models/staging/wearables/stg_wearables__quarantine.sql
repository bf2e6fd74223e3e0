{#- Stream records that cannot be used, with the reason and the partition/offset to find them by (the
    role SYS_STREAM_SCAN_ERRORS plays for records Redshift cannot ingest). Counted, never blocking the
    stream, never silently dropped. Each source view keeps its own watermark: on Redshift the two
    streaming views refresh independently. -#}
{%- set is_kinesis = wearables_stream_kind() == 'kinesis' -%}
{%- set parsed_view = 'base_wearables__kds_stream' if is_kinesis else 'base_wearables__stream' -%}
{%- set unparsable_view = 'base_wearables__kds_stream_unparsable' if is_kinesis else 'base_wearables__stream_unparsable' -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['wearables'],
    )
}}

with rejected_records as (

    select
        cast('{{ parsed_view }}' as varchar) as source_view,
        kafka_partition,
        kafka_offset,
        shard_id,
        sequence_number,
        arrived_at,
        refresh_time,
        event_id,
        cast(rejection_reason as varchar) as rejection_reason
    from {{ ref('stg_wearables__records') }}
    where
        rejection_reason is not null
        {% if is_incremental() %}
            and {{ stream_refreshed_after_processed(processed_where="processed.source_view = '" ~ parsed_view ~ "'") }}
        {% endif %}

),

unparsable_records as (

    select
        cast('{{ unparsable_view }}' as varchar) as source_view,
        {% if is_kinesis -%}
        cast(null as bigint) as kafka_partition,
        cast(null as bigint) as kafka_offset,
        cast(shard_id as varchar(20)) as shard_id,
        {{ stream_sequence_position('sequence_number') }} as sequence_number,
        approximate_arrival_timestamp as arrived_at,
        {%- else -%}
        kafka_partition,
        kafka_offset,
        {{ msk_partition_shard_id('kafka_partition') }} as shard_id,
        {{ stream_sequence_position('kafka_offset') }} as sequence_number,
        kafka_timestamp as arrived_at,
        {%- endif %}
        refresh_time,
        cast(null as varchar) as event_id,
        cast('not_json' as varchar) as rejection_reason
    from {{ ref(unparsable_view) }}
    {% if is_incremental() %}
        where {{ stream_refreshed_after_processed(
            processed_where="processed.source_view = '" ~ unparsable_view ~ "'"
        ) }}
    {% endif %}

),

all_rejections as (

    select * from rejected_records
    union all
    select * from unparsable_records

)

{% if is_incremental() %}

, watermarks as (

    select
        source_view,
        shard_id,
        max(sequence_number) as max_sequence_number
    from {{ this }}
    group by source_view, shard_id

)

{% endif %}

select
    all_rejections.source_view,
    all_rejections.kafka_partition,
    all_rejections.kafka_offset,
    all_rejections.shard_id,
    all_rejections.sequence_number,
    all_rejections.arrived_at,
    all_rejections.refresh_time,
    all_rejections.event_id,
    all_rejections.rejection_reason,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as quarantined_at
from all_rejections
{% if is_incremental() %}
    left join watermarks
        on
            all_rejections.source_view = watermarks.source_view
            and all_rejections.shard_id = watermarks.shard_id
    where
        watermarks.max_sequence_number is null
        or all_rejections.sequence_number > watermarks.max_sequence_number
{% endif %}
