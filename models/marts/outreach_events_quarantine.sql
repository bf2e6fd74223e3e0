{#- Outreach events the platform sent back that cannot be used, with the reason (for the platform's owners). -#}
select
    source_file,
    source_row,
    patient_id,
    event_type,
    occurred_at_text,
    loaded_at,
    quarantine_reason
from {{ ref('int_outreach_events_validated') }}
where quarantine_reason is not null
