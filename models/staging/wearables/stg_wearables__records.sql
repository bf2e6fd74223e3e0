{#- Every JSON record of the stream with its typed fields and, when it cannot be used, why. A table,
    appended per refresh: each record's JSON is parsed once, not by every model and test that reads it. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['wearables'],
    )
}}

{%- set payload_keys = ['event_id', 'patient_id', 'device_id', 'event_time', 'steps_increment', 'heart_rate'] -%}

with refreshed_records as (

    select
        kafka_partition,
        kafka_offset,
        kafka_timestamp,
        refresh_time,
        {{ payload_is_object('payload') }} as is_json_object,
        {{ payload_fields('payload', payload_keys) }} as payload_fields
    from {{ ref('base_wearables__stream') }}
    where
        is_json
        {% if is_incremental() %}
            and {{ stream_refreshed_after_processed() }}
        {% endif %}

),

{% if is_incremental() %}

{#- Exact on top of the refresh_time bound: a full refresh of the streaming view re-reads what the stream still
    retains with new refresh_times, so a record is new only above its partition's offset watermark. #}
watermarks as (

    select
        kafka_partition,
        max(kafka_offset) as max_offset
    from {{ this }}
    group by kafka_partition

),

stream_records as (

    select refreshed_records.*
    from refreshed_records
    left join watermarks
        on refreshed_records.kafka_partition = watermarks.kafka_partition
    where refreshed_records.kafka_offset > coalesce(watermarks.max_offset, -1)

),

{% else %}

stream_records as (

    select * from refreshed_records

),

{% endif %}

extracted as (

    select
        kafka_partition,
        kafka_offset,
        kafka_timestamp as arrived_at,
        refresh_time,
        is_json_object,
        {{ payload_text('stream_records.payload_fields', 'event_id') }} as event_id,
        {{ payload_text('stream_records.payload_fields', 'patient_id') }} as patient_id,
        {{ payload_text('stream_records.payload_fields', 'device_id') }} as device_id,
        {{ payload_text('stream_records.payload_fields', 'event_time') }} as event_time_text,
        {{ payload_number('stream_records.payload_fields', 'steps_increment') }} as steps_increment_value,
        {{ payload_number('stream_records.payload_fields', 'heart_rate') }} as heart_rate_value
    from stream_records

),

typed as (

    select
        kafka_partition,
        kafka_offset,
        arrived_at,
        refresh_time,
        is_json_object,
        event_id,
        patient_id,
        device_id,
        steps_increment_value,
        heart_rate_value,
        {{ iso8601_utc_to_timestamp('event_time_text') }} as event_time
    from extracted

)

select
    kafka_partition,
    kafka_offset,
    arrived_at,
    refresh_time,
    event_id,
    patient_id,
    device_id,
    event_time,
    cast(steps_increment_value as {{ dbt.type_int() }}) as steps_increment,
    cast(heart_rate_value as {{ dbt.type_float() }}) as heart_rate,
    case
        when not is_json_object then 'not_a_json_object'
        when patient_id is null or trim(patient_id) = '' then 'missing_patient_id'
        when event_id is null or trim(event_id) = '' then 'missing_event_id'
        when event_time is null then 'invalid_event_time'
        when heart_rate_value is null then 'missing_heart_rate'
        when
            heart_rate_value < {{ var('wearables_heart_rate_min_bpm') }}
            or heart_rate_value > {{ var('wearables_heart_rate_max_bpm') }}
            then 'heart_rate_out_of_range'
        when
            steps_increment_value is null
            or steps_increment_value < 0
            or steps_increment_value > {{ var('wearables_steps_increment_max') }}
            or steps_increment_value != floor(steps_increment_value)
            then 'invalid_steps_increment'
    end as rejection_reason
from typed
