{#-
    Front-desk appointments resolved to FHIR patients through Patient.identifier, never by assuming
    equal ids: first the FHIR logical id, then a medical record number that belongs to exactly one
    patient. Every appointment is kept; patient_id is null when nothing resolves (the reason is in
    int_appointments_unmatched).
-#}
with appointments as (

    select * from {{ ref('stg_front_desk__appointments') }}

),

patients as (

    select
        patient_id,
        mrn
    from {{ ref('stg_healthlake__patients') }}

),

unique_mrns as (

    select
        mrn,
        min(patient_id) as patient_id,
        count(distinct patient_id) as patients_with_mrn
    from patients
    where mrn is not null
    group by mrn

)

select
    appointments.appointment_key,
    appointments.front_desk_patient_id,
    coalesce(
        by_fhir_id.patient_id,
        case when by_mrn.patients_with_mrn = 1 then by_mrn.patient_id end
    ) as patient_id,
    case
        when by_fhir_id.patient_id is not null then 'fhir_id'
        when by_mrn.patients_with_mrn = 1 then 'mrn'
    end as identity_match_method,
    case
        when by_fhir_id.patient_id is not null or by_mrn.patients_with_mrn = 1 then null
        when by_mrn.patients_with_mrn > 1 then 'ambiguous_mrn'
        else 'unknown_patient'
    end as unmatched_reason,
    appointments.appointment_at,
    appointments.appointment_date,
    appointments.appointment_status,
    appointments.department,
    appointments.provider_id,
    appointments.gender_code,
    appointments.gender,
    appointments.birth_date,
    appointments.phone_number,
    appointments.booked_at,
    appointments.source_updated_at
from appointments
left join patients as by_fhir_id
    on appointments.front_desk_patient_id = by_fhir_id.patient_id
left join unique_mrns as by_mrn
    on appointments.front_desk_patient_id = by_mrn.mrn
