{#- Per patient and day (UTC, by event time): active minutes (average heart rate above the threshold,
    reference analysis 2), steps, resting heart rate (10th percentile of the still minutes' average heart
    rate) and the last event. Only the days touched by new minutes are recomputed. The mart
    fct_wearable_daily_activity publishes it; int_wearable_activity_summarised reads it. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['patient_id', 'activity_date'],
        tags=['wearables'],
    )
}}

with minutes as (

    select aggregated_minutes.* from {{ ref('int_wearable_minutes_aggregated') }} as aggregated_minutes
    {% if is_incremental() %}
        where aggregated_minutes.activity_date >= {{ earliest_touched_group(
            ref('int_wearable_minutes_aggregated'), 'recently_loaded.activity_date', 'source_loaded_at'
        ) }}
    {% endif %}

),

{{ rows_of_touched_groups('minutes_to_summarise', 'minutes', ['patient_id', 'activity_date'], 'source_loaded_at') }},

daily_totals as (

    select
        patient_id,
        activity_date,
        count(*) as minutes_with_data,
        sum(case when is_active_minute then 1 else 0 end) as active_minutes,
        sum(steps) as steps,
        max(max_heart_rate) as max_heart_rate,
        max(last_event_at) as last_event_at,
        max(source_loaded_at) as source_loaded_at
    from minutes_to_summarise
    group by patient_id, activity_date

),

resting_heart_rates as (

    select
        patient_id,
        activity_date,
        percentile_cont(0.1) within group (order by avg_heart_rate) as resting_heart_rate
    from minutes_to_summarise
    where steps = 0
    group by patient_id, activity_date

)

select
    daily_totals.patient_id,
    daily_totals.activity_date,
    daily_totals.active_minutes,
    daily_totals.minutes_with_data,
    daily_totals.steps,
    resting_heart_rates.resting_heart_rate,
    daily_totals.max_heart_rate,
    daily_totals.last_event_at,
    daily_totals.source_loaded_at
from daily_totals
left join resting_heart_rates
    on
        daily_totals.patient_id = resting_heart_rates.patient_id
        and daily_totals.activity_date = resting_heart_rates.activity_date
