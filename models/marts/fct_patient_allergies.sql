{#-
    Reference analysis 1 for analysts: the un-nested allergy view with the patient's name, stored as a
    table so it is not re-un-nested on every query (the reference keeps it as a materialized view).
-#}
with allergies as (

    select * from {{ ref('int_allergies_unnested') }}

),

patients as (

    select * from {{ ref('dim_patient') }}

)

select
    allergies.allergy_row_key,
    allergies.allergy_id,
    allergies.patient_id,
    patients.given_name,
    patients.family_name,
    patients.name_prefix,
    allergies.category,
    allergies.recorded_date,
    allergies.clinical_status,
    allergies.criticality,
    allergies.allergen_code,
    allergies.allergen_description,
    allergies.allergy_code,
    allergies.allergy_description,
    allergies.reaction_severity,
    allergies.has_reaction,
    allergies.is_anaphylaxis
from allergies
left join patients
    on allergies.patient_id = patients.patient_id
