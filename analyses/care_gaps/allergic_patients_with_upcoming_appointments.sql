{#-
    Care gap: patients with a high-criticality allergy or anaphylaxis history who have an upcoming
    appointment, so the visit can prepare (allergy banner, epinephrine on hand).
-#}
select
    patient_id,
    next_appointment_at,
    highest_criticality,
    has_anaphylaxis,
    allergy_descriptions
from {{ ref('patient_360') }}
where
    next_appointment_at is not null
    and (highest_criticality = 'high' or has_anaphylaxis)
order by next_appointment_at
