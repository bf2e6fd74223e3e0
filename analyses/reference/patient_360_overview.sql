{#-
    Reference analysis 3, against the marts: per patient, allergy information, activity and front-desk
    appointments; every patient of every source appears (the reference started from allergies and dropped
    the rest).
-#}
select
    patient_id,
    identity_source,
    gender,
    birth_date,
    phone_number,
    allergy_count,
    allergy_descriptions,
    highest_criticality,
    active_minutes_last_7_days,
    active_minutes_last_30_days,
    appointments_total,
    last_visit_at,
    next_appointment_at,
    no_show_rate
from {{ ref('patient_360') }}
order by patient_id
