{#- One row per front-desk appointment, resolved to the FHIR patient where the identity matches. -#}
with appointments as (

    select * from {{ ref('int_appointments_identity_matched') }}

)

select
    appointment_key,
    coalesce(patient_id, 'front_desk:' || front_desk_patient_id) as patient_id,
    patient_id is not null as is_identity_matched,
    identity_match_method,
    unmatched_reason,
    appointment_at,
    appointment_date,
    appointment_status,
    department,
    provider_id,
    booked_at,
    source_updated_at
from appointments
