{#-
    Care gap: patients who wear a device but whose latest event is more than 14 days before "now"
    (var as_of, else the clock): the device is off, lost or the patient disengaged.
-#}
select
    patient_id,
    identity_source,
    last_wearable_event_at,
    active_minutes_last_30_days
from {{ ref('patient_360') }}
where
    last_wearable_event_at is not null
    and last_wearable_event_at < {{ as_of_timestamp() }} - interval '14 days'
order by last_wearable_event_at
