{#- Per patient: the latest usable outreach event (ties at the same time: the furthest-reaching outcome). -#}
with usable_events as (

    select * from {{ ref('int_outreach_events_validated') }}
    where quarantine_reason is null

),

ranked_events as (

    select
        patient_id,
        occurred_at,
        event_type,
        row_number() over (
            partition by patient_id
            order by
                occurred_at desc,
                case event_type
                    when 'declined' then 1 when 'reached' then 2 when 'opened' then 3 else 4
                end,
                source_file desc,
                source_row desc
        ) as recency
    from usable_events

)

select
    patient_id,
    occurred_at as last_outreach_at,
    event_type as last_outreach_outcome
from ranked_events
where recency = 1
