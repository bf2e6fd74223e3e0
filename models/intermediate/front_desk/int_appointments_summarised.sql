{#-
    Per patient: last visit, next upcoming appointment, counts by status and the no-show rate
    (no-shows over appointments that came due and were not cancelled). "Now" is var as_of
    (macro as_of_timestamp), or the warehouse clock when it is null.
-#}
with appointments as (

    {#- Unmatched desk identities are summarised too, keyed 'front_desk:<desk id>', so the patient 360
        can show them instead of dropping them. #}
    select
        coalesce(patient_id, 'front_desk:' || front_desk_patient_id) as patient_id,
        patient_id is not null as is_identity_matched,
        appointment_status,
        appointment_at,
        phone_number,
        source_updated_at
    from {{ ref('int_appointments_identity_matched') }}

),

as_of as (

    select {{ as_of_timestamp() }} as as_of_at

),

latest_phone as (

    select
        patient_id,
        phone_number,
        row_number() over (
            partition by patient_id
            order by source_updated_at desc, appointment_at desc
        ) as recency
    from appointments
    where phone_number is not null

),

per_patient as (

    select
        appointments.patient_id,
        max(case when appointments.is_identity_matched then 1 else 0 end) = 1 as is_identity_matched,
        count(*) as appointments_total,
        sum(case when appointments.appointment_status = 'booked' then 1 else 0 end) as booked_count,
        sum(case when appointments.appointment_status = 'arrived' then 1 else 0 end) as arrived_count,
        sum(case when appointments.appointment_status = 'fulfilled' then 1 else 0 end) as fulfilled_count,
        sum(case when appointments.appointment_status = 'cancelled' then 1 else 0 end) as cancelled_count,
        sum(case when appointments.appointment_status = 'noshow' then 1 else 0 end) as noshow_count,
        max(
            case
                when
                    appointments.appointment_status in ('arrived', 'fulfilled')
                    and appointments.appointment_at <= as_of.as_of_at
                    then appointments.appointment_at
            end
        ) as last_visit_at,
        min(
            case
                when
                    appointments.appointment_status = 'booked'
                    and appointments.appointment_at > as_of.as_of_at
                    then appointments.appointment_at
            end
        ) as next_appointment_at,
        max(appointments.source_updated_at) as last_front_desk_update_at
    from appointments
    cross join as_of
    group by appointments.patient_id

)

select
    per_patient.patient_id,
    per_patient.is_identity_matched,
    per_patient.appointments_total,
    per_patient.booked_count,
    per_patient.arrived_count,
    per_patient.fulfilled_count,
    per_patient.cancelled_count,
    per_patient.noshow_count,
    cast(per_patient.noshow_count as double precision) / nullif(
        per_patient.noshow_count + per_patient.arrived_count + per_patient.fulfilled_count, 0
    ) as no_show_rate,
    per_patient.last_visit_at,
    per_patient.next_appointment_at,
    latest_phone.phone_number as latest_phone_number,
    per_patient.last_front_desk_update_at
from per_patient
left join latest_phone
    on
        per_patient.patient_id = latest_phone.patient_id
        and latest_phone.recency = 1
