{#- Per patient: active conditions (count and list) and all conditions on record. -#}
with staged_conditions as (

    select * from {{ ref('stg_healthlake__conditions') }}

),

resolved_references as (

    select * from {{ ref('int_patient_references_resolved') }}
    where resource_type = 'Condition' and patient_id is not null

),

conditions as (

    {#- Only conditions of a known patient (the others are in fct_unresolved_patient_references). #}
    select
        staged_conditions.condition_id,
        resolved_references.patient_id,
        staged_conditions.condition_description,
        staged_conditions.is_active
    from staged_conditions
    inner join resolved_references
        on staged_conditions.condition_id = resolved_references.resource_id

),

active_conditions_listed as (

    {{ bounded_listagg('conditions', 'patient_id', 'condition_description', 'active_conditions', where='is_active') }}

),

conditions_counted as (

    select
        patient_id,
        count(*) as condition_count,
        sum(case when is_active then 1 else 0 end) as active_condition_count
    from conditions
    group by patient_id

)

select
    conditions_counted.patient_id,
    conditions_counted.condition_count,
    conditions_counted.active_condition_count,
    active_conditions_listed.active_conditions
from conditions_counted
left join active_conditions_listed
    on conditions_counted.patient_id = active_conditions_listed.patient_id
