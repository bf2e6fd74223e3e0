{#-
    Reference analysis 2, against the marts: active minutes (average heart rate above 80 in the minute)
    per patient per day, by event time rather than arrival time.
-#}
select
    patient_id,
    activity_date,
    active_minutes,
    minutes_with_data,
    steps
from {{ ref('fct_wearable_daily_activity') }}
order by patient_id, activity_date
