{#- Exceptions: front-desk appointments that resolve to no FHIR patient, with the reason. Reported, not dropped. -#}
select
    appointment_key,
    front_desk_patient_id,
    unmatched_reason,
    appointment_at,
    appointment_status,
    department,
    source_updated_at
from {{ ref('int_appointments_identity_matched') }}
where patient_id is null
