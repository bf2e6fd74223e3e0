{#- One row per patient and minute of event time (not arrival time): the average heart rate decides
    whether the minute is active. Late events re-aggregate only the minutes they touch. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['patient_id', 'minute_at'],
        tags=['wearables'],
    )
}}

with events as (

    select
        wearable_events.patient_id,
        {{ dbt.date_trunc('minute', 'wearable_events.event_time') }} as minute_at,
        wearable_events.event_time,
        wearable_events.heart_rate,
        wearable_events.steps_increment,
        wearable_events.loaded_at
    from {{ ref('stg_wearables__events') }} as wearable_events
    {% if is_incremental() %}
        where wearable_events.event_time >= {{ earliest_touched_group(
            ref('stg_wearables__events'), dbt.date_trunc('minute', 'recently_loaded.event_time'), 'loaded_at'
        ) }}
    {% endif %}

),

{{ rows_of_touched_groups('events_to_aggregate', 'events', ['patient_id', 'minute_at'], 'loaded_at') }},

minutes as (

    select
        patient_id,
        minute_at,
        count(*) as event_count,
        avg(heart_rate) as avg_heart_rate,
        min(heart_rate) as min_heart_rate,
        max(heart_rate) as max_heart_rate,
        sum(steps_increment) as steps,
        max(event_time) as last_event_at,
        max(loaded_at) as source_loaded_at
    from events_to_aggregate
    group by patient_id, minute_at

)

select
    patient_id,
    minute_at,
    cast(minute_at as date) as activity_date,
    event_count,
    avg_heart_rate,
    min_heart_rate,
    max_heart_rate,
    steps,
    avg_heart_rate > {{ var('wearables_active_heart_rate_bpm') }} as is_active_minute,
    last_event_at,
    source_loaded_at
from minutes
