{#- One row per loaded outreach event, typed: event type normalised, time parsed (null when unparsable). -#}
with outreach_events as (

    select * from {{ source('engagement', 'outreach_events') }}

)

select
    cast(source_file as varchar(1024)) as source_file,
    cast(source_row as integer) as source_row,
    cast(trim(patient_id) as varchar(256)) as patient_id,
    cast(lower(trim(event_type)) as varchar(256)) as event_type,
    cast(occurred_at as varchar(256)) as occurred_at_text,
    {{ iso_timestamp_or_null('trim(occurred_at)') }} as occurred_at,
    cast(loaded_at as timestamp) as loaded_at
from outreach_events
