{#- One row per patient: who they are (the patient dimension every fact joins to). -#}
with patients as (

    select * from {{ ref('stg_healthlake__patients') }}

)

select
    patient_id,
    mrn,
    given_name,
    family_name,
    name_prefix,
    gender,
    birth_date,
    {{ age_in_years('birth_date', 'coalesce(cast(deceased_at as date), current_date)') }} as age_years,
    is_deceased,
    deceased_at,
    race,
    ethnicity,
    phone_number,
    address_city,
    address_state,
    address_postal_code,
    source_last_updated_at
from patients
