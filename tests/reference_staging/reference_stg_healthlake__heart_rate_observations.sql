{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__heart_rate_observations, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#- One row per heart-rate vital sign (LOINC 8867-4) in beats per minute. -#}
with observations as (

    select * from {{ source('healthlake', 'observation') }}

),

heart_rate_observation_ids as (

    {#- Matched on any coding of the observation code, not just the first. #}
    select distinct observations.id as observation_id
    from observations
    {{ left_join_unnest('observations.code.coding', 'observation_coding') }}
    where
        {{ fhir_text('observation_coding.' ~ adapter.quote('system')) }} = 'http://loinc.org'
        and {{ fhir_text('observation_coding.code') }} = '8867-4'

)

select
    observations.id as observation_id,
    {{ fhir_reference_id('observations.subject.reference') }} as patient_id,
    {{ fhir_reference_id('observations.encounter.reference', 'Encounter') }} as encounter_id,
    observations.status,
    {{ fhir_timestamp('observations.effectivedatetime') }} as effective_at,
    {{ fhir_number('observations.valuequantity.value') }} as heart_rate_bpm,
    {{ fhir_text('observations.valuequantity.unit') }} as heart_rate_unit
from observations
inner join heart_rate_observation_ids
    on observations.id = heart_rate_observation_ids.observation_id
