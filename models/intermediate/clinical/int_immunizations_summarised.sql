{#- Per patient: completed immunizations and the latest one (only immunizations of a known patient). -#}
with staged_immunizations as (

    select * from {{ ref('stg_healthlake__immunizations') }}
    where status = 'completed'

),

resolved_references as (

    select * from {{ ref('int_patient_references_resolved') }}
    where resource_type = 'Immunization' and patient_id is not null

),

immunizations as (

    select
        staged_immunizations.immunization_id,
        resolved_references.patient_id,
        staged_immunizations.occurred_date
    from staged_immunizations
    inner join resolved_references
        on staged_immunizations.immunization_id = resolved_references.resource_id

)

select
    patient_id,
    count(*) as immunization_count,
    max(occurred_date) as last_immunization_date
from immunizations
group by patient_id
