{#- Never silently dropped: every stream record up to what the models have processed is an event, a
    duplicate of an event, or quarantined. -#}
{{ config(tags=['wearables']) }}

with processed_up_to as (

    select max(refresh_time) as refresh_time
    from {{ ref('stg_wearables__events') }}

),

stream_records as (

    select
        stream.kafka_partition,
        stream.kafka_offset
    from {{ source('wearables_msk', 'wearables_stream') }} as stream
    cross join processed_up_to
    where stream.refresh_time <= processed_up_to.refresh_time

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
