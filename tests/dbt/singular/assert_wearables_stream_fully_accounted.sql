{#- Never silently dropped: every stream record up to what the models have processed is an event, a
    duplicate of an event, or quarantined. -#}
{{ config(tags=['wearables']) }}

with processed_up_to as (

    select max(refresh_time) as refresh_time
    from {{ ref('stg_wearables__events') }}

),

{#- The stream is read through its streaming view (every record, JSON or not): Redshift reads a Kafka external
    schema only through a streaming materialized view
    (https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html). #}
stream_positions as (

    select kafka_partition, kafka_offset, refresh_time from {{ ref('base_wearables__stream') }}

),

stream_records as (

    select
        stream_positions.kafka_partition,
        stream_positions.kafka_offset
    from stream_positions
    cross join processed_up_to
    where stream_positions.refresh_time <= processed_up_to.refresh_time

),

duplicate_records as (

    select
        records.kafka_partition,
        records.kafka_offset
    from {{ ref('stg_wearables__records') }} as records
    inner join {{ ref('stg_wearables__events') }} as events
        on records.event_id = events.event_id
    where records.rejection_reason is null

),

accounted_records as (

    select kafka_partition, kafka_offset from duplicate_records
    union all
    select kafka_partition, kafka_offset from {{ ref('stg_wearables__quarantine') }}

)

select stream_records.*
from stream_records
left join accounted_records
    on
        stream_records.kafka_partition = accounted_records.kafka_partition
        and stream_records.kafka_offset = accounted_records.kafka_offset
where accounted_records.kafka_offset is null
