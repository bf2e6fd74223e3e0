{#-
    One row per patient known to any source: HealthLake (FHIR), the front desk (zero-ETL replica) or
    the wearable stream. Identities are matched explicitly upstream (front desk: FHIR id, then a unique
    MRN; wearables: the FHIR id the device is enrolled to); an identity no source resolves keeps its own
    row ('front_desk:<id>' or the device's patient id) with identity_source saying where it comes from,
    so no patient is dropped by a join.
-#}
with patients as (

    select * from {{ ref('dim_patient') }}

),

allergies as (

    select * from {{ ref('int_allergies_summarised') }}

),

conditions as (

    select * from {{ ref('int_conditions_summarised') }}

),

immunizations as (

    select * from {{ ref('int_immunizations_summarised') }}

),

appointments as (

    select * from {{ ref('int_appointments_summarised') }}

),

wearables as (

    select * from {{ ref('int_wearable_activity_summarised') }}

),

outreach as (

    select * from {{ ref('int_outreach_summarised') }}

),

patient_spine as (

    select
        patient_id,
        'healthlake' as identity_source
    from patients

    union all

    select
        appointments.patient_id,
        'front_desk_only' as identity_source
    from appointments
    where not appointments.is_identity_matched

    union all

    select
        wearables.patient_id,
        'wearables_only' as identity_source
    from wearables
    left join patients
        on wearables.patient_id = patients.patient_id
    where patients.patient_id is null

)

select
    patient_spine.patient_id,
    patient_spine.identity_source,
    patients.mrn,
    patients.given_name,
    patients.family_name,
    patients.gender,
    patients.birth_date,
    patients.age_years,
    patients.is_deceased,
    cast(coalesce(allergies.allergy_count, 0) as integer) as allergy_count,
    allergies.allergy_descriptions,
    allergies.highest_criticality,
    coalesce(allergies.has_anaphylaxis, false) as has_anaphylaxis,
    cast(coalesce(conditions.active_condition_count, 0) as integer) as active_condition_count,
    conditions.active_conditions,
    cast(coalesce(immunizations.immunization_count, 0) as integer) as immunization_count,
    immunizations.last_immunization_date,
    cast(coalesce(appointments.appointments_total, 0) as integer) as appointments_total,
    appointments.last_visit_at,
    appointments.next_appointment_at,
    cast(coalesce(appointments.booked_count, 0) as integer) as booked_count,
    cast(coalesce(appointments.arrived_count, 0) as integer) as arrived_count,
    cast(coalesce(appointments.fulfilled_count, 0) as integer) as fulfilled_count,
    cast(coalesce(appointments.cancelled_count, 0) as integer) as cancelled_count,
    cast(coalesce(appointments.noshow_count, 0) as integer) as noshow_count,
    cast(appointments.no_show_rate as double precision) as no_show_rate,
    coalesce(patients.phone_number, appointments.latest_phone_number) as phone_number,
    cast(coalesce(wearables.active_minutes_last_7_days, 0) as integer) as active_minutes_last_7_days,
    cast(coalesce(wearables.active_minutes_last_30_days, 0) as integer) as active_minutes_last_30_days,
    cast(wearables.avg_daily_steps_last_30_days as double precision) as avg_daily_steps_last_30_days,
    cast(wearables.resting_heart_rate_last_30_days as double precision) as resting_heart_rate_last_30_days,
    wearables.last_event_at as last_wearable_event_at,
    patients.source_last_updated_at as healthlake_updated_at,
    appointments.last_front_desk_update_at as front_desk_updated_at,
    wearables.last_loaded_at as wearables_loaded_at,
    outreach.last_outreach_at,
    cast(outreach.last_outreach_outcome as varchar(32)) as last_outreach_outcome
from patient_spine
left join patients
    on patient_spine.patient_id = patients.patient_id
left join allergies
    on patient_spine.patient_id = allergies.patient_id
left join conditions
    on patient_spine.patient_id = conditions.patient_id
left join immunizations
    on patient_spine.patient_id = immunizations.patient_id
left join appointments
    on patient_spine.patient_id = appointments.patient_id
left join wearables
    on patient_spine.patient_id = wearables.patient_id
left join outreach
    on patient_spine.patient_id = outreach.patient_id
