{#- Never silently dropped: every stream record up to what the models have processed is an event, a
    duplicate of an event, or quarantined. -#}
{{ config(tags=['wearables']) }}

with processed_up_to as (

    select max(refresh_time) as refresh_time
    from {{ ref('stg_wearables__events') }}

),

{#- The stream is read through its streaming view (every record, JSON or not): Redshift reads an MSK or Kinesis
    external schema only through a streaming materialized view
    (https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html). Positions as
    (shard_id, sequence_number) for either stream kind (macros/streaming/stream_kind.sql). #}
stream_positions as (

    {{ wearables_stream_positions() }}

),

stream_records as (

    select
        stream_positions.shard_id,
        stream_positions.sequence_number
    from stream_positions
    cross join processed_up_to
    where stream_positions.refresh_time <= processed_up_to.refresh_time

),

duplicate_records as (

    select
        records.shard_id,
        records.sequence_number
    from {{ ref('stg_wearables__records') }} as records
    inner join {{ ref('stg_wearables__events') }} as events
        on records.event_id = events.event_id
    where records.rejection_reason is null

),

accounted_records as (

    select shard_id, sequence_number from duplicate_records
    union all
    select shard_id, sequence_number from {{ ref('stg_wearables__quarantine') }}

)

select stream_records.*
from stream_records
left join accounted_records
    on
        stream_records.shard_id = accounted_records.shard_id
        and stream_records.sequence_number = accounted_records.sequence_number
where accounted_records.sequence_number is null
