{#- Per patient: completed immunizations and the latest one. -#}
with immunizations as (

    select * from {{ ref('stg_healthlake__immunizations') }}
    where status = 'completed'

)

select
    patient_id,
    count(*) as immunization_count,
    max(occurred_date) as last_immunization_date
from immunizations
group by patient_id
