{#-
    One row per allergy, condition, immunization, encounter and heart-rate observation: the patient its
    reference resolves to (by id for literal references, by identifier for logical, conditional, urn:uuid
    and contained ones), or why it does not resolve. Per-patient facts keep only the resolved rows.
-#}
with reference_keys as (

    select * from {{ ref('stg_healthlake__patient_references') }}

),

patients as (

    select * from {{ ref('stg_healthlake__patients') }}

),

patient_identifiers as (

    select * from {{ ref('stg_healthlake__patient_identifiers') }}

),

heart_rate_observations as (

    select * from {{ ref('stg_healthlake__heart_rate_observations') }}

),

references_in_scope as (

    {#- Observations: only the heart-rate ones are modelled. #}
    select reference_keys.*
    from reference_keys
    left join heart_rate_observations
        on reference_keys.resource_id = heart_rate_observations.observation_id
    where
        reference_keys.resource_type <> 'Observation'
        or heart_rate_observations.observation_id is not null

),

references_listed as (

    select distinct
        resource_type,
        resource_id,
        reference_text,
        reference_form,
        referenced_type,
        referenced_id
    from references_in_scope

),

patient_matches as (

    select
        references_in_scope.resource_type,
        references_in_scope.resource_id,
        patients.patient_id
    from references_in_scope
    inner join patients
        on references_in_scope.referenced_id = patients.patient_id

    union all

    select
        references_in_scope.resource_type,
        references_in_scope.resource_id,
        patient_identifiers.patient_id
    from references_in_scope
    inner join patient_identifiers
        on
            references_in_scope.identifier_value = patient_identifiers.identifier_value
            and (
                references_in_scope.identifier_system is null
                or references_in_scope.identifier_system = patient_identifiers.identifier_system
            )

),

matches_counted as (

    select
        resource_type,
        resource_id,
        count(distinct patient_id) as matched_patient_count,
        min(patient_id) as matched_patient_id
    from patient_matches
    group by resource_type, resource_id

),

contained_keys as (

    select
        resource_type,
        resource_id,
        max(case when identifier_value is not null then 1 else 0 end) as has_contained_identifier
    from references_in_scope
    where reference_form = 'contained'
    group by resource_type, resource_id

)

select
    references_listed.resource_type,
    references_listed.resource_id,
    references_listed.reference_text,
    references_listed.reference_form,
    case when matches_counted.matched_patient_count = 1 then matches_counted.matched_patient_id end as patient_id,
    case
        when references_listed.reference_form = 'missing' then 'no patient reference'
        when references_listed.reference_form = 'unrecognised' then 'unrecognised reference form'
        when references_listed.reference_form = 'other_type'
            then 'refers to a ' || references_listed.referenced_type || ', not a Patient'
        when matches_counted.matched_patient_count > 1
            then 'identifier matches ' || cast(matches_counted.matched_patient_count as varchar(20)) || ' patients'
        when matches_counted.matched_patient_count = 1 then null
        when references_listed.reference_form in ('relative', 'versioned', 'absolute')
            then 'patient ' || references_listed.referenced_id || ' is not in the datastore'
        when references_listed.reference_form = 'urn_uuid'
            then 'no imported resource has this fullUrl'
        when references_listed.reference_form = 'contained' and coalesce(contained_keys.has_contained_identifier, 0) = 0
            then 'contained resource not found or without identifier'
        else 'no known patient has this identifier'
    end as unresolved_reason
from references_listed
left join matches_counted
    on
        references_listed.resource_type = matches_counted.resource_type
        and references_listed.resource_id = matches_counted.resource_id
left join contained_keys
    on
        references_listed.resource_type = contained_keys.resource_type
        and references_listed.resource_id = contained_keys.resource_id
