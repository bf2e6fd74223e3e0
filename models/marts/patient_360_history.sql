{#-
    What we knew about each patient and when: one row per version of a patient_360 row (from
    patient_360_snapshot). "On date X": valid_from <= X and (valid_to is null or valid_to > X).
-#}
select
    patient_id,
    cast(dbt_valid_from as timestamp) as valid_from,
    cast(dbt_valid_to as timestamp) as valid_to,
    dbt_valid_to is null as is_current,
    identity_source,
    mrn,
    given_name,
    family_name,
    gender,
    birth_date,
    is_deceased,
    allergy_count,
    allergy_descriptions,
    highest_criticality,
    has_anaphylaxis,
    active_condition_count,
    active_conditions,
    immunization_count,
    last_immunization_date,
    appointments_total,
    booked_count,
    arrived_count,
    fulfilled_count,
    cancelled_count,
    noshow_count,
    phone_number,
    last_wearable_event_at,
    front_desk_updated_at,
    last_outreach_at,
    last_outreach_outcome
from {{ ref('patient_360_snapshot') }}
