{#- Per patient and day (UTC, by event time): active minutes (average heart rate above the threshold,
    reference analysis 2), steps and resting heart rate, as aggregated by int_wearable_days_aggregated. -#}
{{ config(tags=['wearables']) }}

select
    patient_id,
    activity_date,
    active_minutes,
    minutes_with_data,
    steps,
    resting_heart_rate,
    max_heart_rate,
    source_loaded_at
from {{ ref('int_wearable_days_aggregated') }}
