{#- Nothing dropped silently: every staged appointment is either matched to a patient or an exception,
    and the summary counts every appointment, matched or not. -#}
with staged as (

    select count(*) as appointments from {{ ref('stg_front_desk__appointments') }}

),

matched as (

    select count(*) as appointments
    from {{ ref('int_appointments_identity_matched') }}
    where patient_id is not null

),

unmatched as (

    select count(*) as appointments from {{ ref('int_appointments_unmatched') }}

),

summarised as (

    select sum(appointments_total) as appointments from {{ ref('int_appointments_summarised') }}

)

select
    staged.appointments as staged_appointments,
    matched.appointments as matched_appointments,
    unmatched.appointments as unmatched_appointments,
    summarised.appointments as summarised_appointments
from staged
cross join matched
cross join unmatched
cross join summarised
where
    staged.appointments != matched.appointments + unmatched.appointments
    or staged.appointments != coalesce(summarised.appointments, 0)
