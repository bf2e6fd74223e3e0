{#- One row per front-desk appointment, renamed and typed; ids are NOT resolved to FHIR patients here. -#}
with appointments as (

    select * from {{ source('front_desk', 'patient_appointment') }}

)

select
    {{ concat_ws_nullsafe("'|'", ['patient_id', 'appointment_datetime']) }} as appointment_key,
    patient_id as front_desk_patient_id,
    cast(appointment_datetime as timestamp) as appointment_at,
    cast(appointment_datetime as date) as appointment_date,
    lower(status) as appointment_status,
    department,
    provider_id,
    upper(gender) as gender_code,
    case upper(gender)
        when 'M' then 'male'
        when 'F' then 'female'
        when 'O' then 'other'
        else 'unknown'
    end as gender,
    cast(date_of_birth as date) as birth_date,
    phone_number,
    cast(booked_at as timestamp) as booked_at,
    cast(updated_at as timestamp) as source_updated_at
from appointments
