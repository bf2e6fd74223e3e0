{#-
    Reference analysis 1, against the marts: one row per allergy category x reaction x manifestation x
    coding, allergies without reaction included ('NA' for missing), with the patient's name.
-#}
select
    patient_id,
    given_name,
    family_name,
    name_prefix,
    category,
    recorded_date,
    allergy_code,
    allergy_description,
    allergen_description
from {{ ref('fct_patient_allergies') }}
order by patient_id, allergy_code
