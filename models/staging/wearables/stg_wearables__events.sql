{#- Valid wearable events, one row per event_id: producer retries duplicate records, the first
    occurrence (lowest partition/offset) is kept. Incremental on each partition's offset watermark. -#}
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
        kafka_partition,
        max(kafka_offset) as max_offset
    from {{ this }}
    group by kafka_partition

),

new_records as (

    select valid_records.*
    from valid_records
    left join watermarks
        on valid_records.kafka_partition = watermarks.kafka_partition
    where valid_records.kafka_offset > coalesce(watermarks.max_offset, -1)

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
            order by kafka_partition, kafka_offset
        ) as occurrence
    from new_records

)

select
    event_id,
    patient_id,
    device_id,
    event_time,
    steps_increment,
    heart_rate,
    arrived_at,
    kafka_partition,
    kafka_offset,
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
