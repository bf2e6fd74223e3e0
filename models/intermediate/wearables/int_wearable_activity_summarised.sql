{#-
    Per patient: wearable activity over the 7 and 30 days up to "now" (var as_of, else the clock),
    counted in event-time days: active minutes, average daily steps over days with data, resting heart
    rate, and the last event seen.
-#}
with daily_activity as (

    select * from {{ ref('int_wearable_days_aggregated') }}

),

as_of as (

    select cast({{ as_of_timestamp() }} as date) as as_of_date

),

last_events as (

    select
        patient_id,
        max(last_event_at) as last_event_at,
        max(source_loaded_at) as last_loaded_at
    from daily_activity
    group by patient_id

),

recent_days as (

    select
        daily_activity.patient_id,
        daily_activity.activity_date,
        daily_activity.active_minutes,
        daily_activity.steps,
        daily_activity.resting_heart_rate,
        daily_activity.activity_date > as_of.as_of_date - 7 as is_in_last_7_days
    from daily_activity
    cross join as_of
    where
        daily_activity.activity_date > as_of.as_of_date - 30
        and daily_activity.activity_date <= as_of.as_of_date

),

recent_activity as (

    select
        patient_id,
        sum(case when is_in_last_7_days then active_minutes else 0 end) as active_minutes_last_7_days,
        sum(active_minutes) as active_minutes_last_30_days,
        avg(cast(steps as double precision)) as avg_daily_steps_last_30_days,
        avg(resting_heart_rate) as resting_heart_rate_last_30_days
    from recent_days
    group by patient_id

)

select
    last_events.patient_id,
    coalesce(recent_activity.active_minutes_last_7_days, 0) as active_minutes_last_7_days,
    coalesce(recent_activity.active_minutes_last_30_days, 0) as active_minutes_last_30_days,
    recent_activity.avg_daily_steps_last_30_days,
    recent_activity.resting_heart_rate_last_30_days,
    last_events.last_event_at,
    last_events.last_loaded_at
from last_events
left join recent_activity
    on last_events.patient_id = recent_activity.patient_id
