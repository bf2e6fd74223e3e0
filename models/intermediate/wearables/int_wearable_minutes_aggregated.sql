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
        patient_id,
        {{ dbt.date_trunc('minute', 'event_time') }} as minute_at,
        heart_rate,
        steps_increment,
        loaded_at
    from {{ ref('stg_wearables__events') }}

),

{% if is_incremental() %}

touched_minutes as (

    select distinct
        patient_id,
        minute_at
    from events
    where loaded_at > (
        select coalesce(max(already_loaded.source_loaded_at), cast('1900-01-01' as timestamp))
        from {{ this }} as already_loaded
    )

),

events_to_aggregate as (

    select events.*
    from events
    inner join touched_minutes
        on
            events.patient_id = touched_minutes.patient_id
            and events.minute_at = touched_minutes.minute_at

),

{% else %}

events_to_aggregate as (

    select * from events

),

{% endif %}

minutes as (

    select
        patient_id,
        minute_at,
        count(*) as event_count,
        avg(heart_rate) as avg_heart_rate,
        min(heart_rate) as min_heart_rate,
        max(heart_rate) as max_heart_rate,
        sum(steps_increment) as steps,
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
    source_loaded_at
from minutes
