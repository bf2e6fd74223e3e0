{#-
    Every outreach event with the reason it cannot be used (null when it can): an event type outside the
    four the platform sends, a time that is not one, a patient no source knows. Nothing is dropped: the
    quarantine is the rows with a reason.
-#}
with outreach_events as (

    select * from {{ ref('stg_engagement__outreach_events') }}

),

known_patients as (

    select patient_id from {{ ref('dim_patient') }}
    union distinct
    select patient_id from {{ ref('int_appointments_summarised') }}
    union distinct
    select patient_id from {{ ref('int_wearable_activity_summarised') }}

)

select
    outreach_events.source_file,
    outreach_events.source_row,
    outreach_events.patient_id,
    outreach_events.event_type,
    outreach_events.occurred_at_text,
    outreach_events.occurred_at,
    outreach_events.loaded_at,
    cast(
        case
            when
                outreach_events.event_type is null
                or outreach_events.event_type not in ('sent', 'opened', 'reached', 'declined')
                then 'unknown_event_type'
            when outreach_events.occurred_at is null then 'bad_time'
            when known_patients.patient_id is null then 'unknown_patient'
        end as varchar(32)
    ) as quarantine_reason
from outreach_events
left join known_patients
    on outreach_events.patient_id = known_patients.patient_id
