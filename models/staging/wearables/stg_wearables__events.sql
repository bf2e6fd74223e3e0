{#- Valid wearable events, one row per event_id: producer retries duplicate records, the first
    occurrence (lowest shard_id, sequence_number: an MSK partition/offset or a Kinesis shard/sequence number)
    is kept. Incremental on each shard's sequence-number watermark. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['wearables'],
    )
}}

with valid_records as (

    select * from {{ ref('stg_wearables__records') }}
    where
        rejection_reason is null
        {% if is_incremental() %}
            and {{ stream_refreshed_after_processed() }}
        {% endif %}

),

{% if is_incremental() %}

watermarks as (

    select
        shard_id,
        max(sequence_number) as max_sequence_number
    from {{ this }}
    group by shard_id

),

new_records as (

    select valid_records.*
    from valid_records
    left join watermarks
        on valid_records.shard_id = watermarks.shard_id
    where
        watermarks.max_sequence_number is null
        or valid_records.sequence_number > watermarks.max_sequence_number

),

{% else %}

new_records as (

    select * from valid_records

),

{% endif %}

ranked_records as (

    select
        new_records.*,
        row_number() over (
            partition by event_id
            order by shard_id, sequence_number
        ) as occurrence
    from new_records

)

select
    event_id,
    patient_id,
    device_id,
    event_time,
    event_time_from_arrival,
    steps_increment,
    heart_rate,
    arrived_at,
    kafka_partition,
    kafka_offset,
    shard_id,
    sequence_number,
    refresh_time,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as loaded_at
from ranked_records
where
    occurrence = 1
    {% if is_incremental() %}
        and not exists (
            select 1
            from {{ this }} as loaded_events
            where loaded_events.event_id = ranked_records.event_id
        )
    {% endif %}
