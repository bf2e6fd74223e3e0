{#- Every JSON record of the stream with its typed fields and, when it cannot be used, why. A table,
    appended per refresh: each record's JSON is parsed once, not by every model and test that reads it.
    Either stream kind (macros/streaming/stream_kind.sql) gives the same columns from here on, positions as
    (shard_id, sequence_number). On Kinesis the reference solution's thin payload is accepted:
    {"patient_id", "steps_increment" (digits as a string), "heart_rate"} without event id and event time; its
    event time is the arrival time (event_time_from_arrival = true) and its event id the record's position. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['wearables'],
    )
}}

{%- set payload_keys = ['event_id', 'patient_id', 'device_id', 'event_time', 'steps_increment', 'heart_rate'] -%}
{%- set is_kinesis = wearables_stream_kind() == 'kinesis' -%}

with refreshed_records as (

    select
        {% if is_kinesis -%}
        cast(null as bigint) as kafka_partition,
        cast(null as bigint) as kafka_offset,
        cast(shard_id as varchar(20)) as shard_id,
        {{ stream_sequence_position('sequence_number') }} as sequence_number,
        approximate_arrival_timestamp as kafka_timestamp,
        {%- else -%}
        kafka_partition,
        kafka_offset,
        {{ msk_partition_shard_id('kafka_partition') }} as shard_id,
        {{ stream_sequence_position('kafka_offset') }} as sequence_number,
        kafka_timestamp,
        {%- endif %}
        refresh_time,
        {{ payload_is_object('payload') }} as is_json_object,
        {{ payload_fields('payload', payload_keys) }} as payload_fields
    from {{ ref('base_wearables__kds_stream' if is_kinesis else 'base_wearables__stream') }}
    where
        is_json
        {% if is_incremental() %}
            and {{ stream_refreshed_after_processed() }}
        {% endif %}

),

{% if is_incremental() %}

{#- Exact on top of the refresh_time bound: a full refresh of the streaming view re-reads what the stream still
    retains with new refresh_times, so a record is new only above its shard's sequence-number watermark. #}
watermarks as (

    select
        shard_id,
        max(sequence_number) as max_sequence_number
    from {{ this }}
    group by shard_id

),

stream_records as (

    select refreshed_records.*
    from refreshed_records
    left join watermarks
        on refreshed_records.shard_id = watermarks.shard_id
    where
        watermarks.max_sequence_number is null
        or refreshed_records.sequence_number > watermarks.max_sequence_number

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
        shard_id,
        sequence_number,
        kafka_timestamp as arrived_at,
        refresh_time,
        is_json_object,
        {{ payload_text('stream_records.payload_fields', 'steps_increment') }} as steps_increment_text,
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
        shard_id,
        sequence_number,
        arrived_at,
        refresh_time,
        is_json_object,
        patient_id,
        device_id,
        heart_rate_value,
        {%- if is_kinesis %}
        -- The reference payload: neither event id nor event time; steps may be digits in a string.
        coalesce(event_id is null and event_time_text is null, false) as event_time_from_arrival,
        coalesce(
            event_id,
            case when event_time_text is null then shard_id || '/' || ltrim(sequence_number, '0') end
        ) as event_id,
        coalesce(
            {{ iso8601_utc_to_timestamp('event_time_text') }},
            case when event_id is null and event_time_text is null then arrived_at end
        ) as event_time,
        coalesce(
            steps_increment_value,
            case
                when {{ text_is_unsigned_integer('steps_increment_text') }}
                    then cast(steps_increment_text as {{ dbt.type_float() }})
            end
        ) as steps_increment_value
        {%- else %}
        false as event_time_from_arrival,
        event_id,
        {{ iso8601_utc_to_timestamp('event_time_text') }} as event_time,
        steps_increment_value
        {%- endif %}
    from extracted

)

select
    kafka_partition,
    kafka_offset,
    shard_id,
    sequence_number,
    event_time_from_arrival,
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
