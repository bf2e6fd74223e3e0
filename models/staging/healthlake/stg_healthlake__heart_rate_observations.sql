{#- stg_healthlake__heart_rate_observations from its ViewDefinition: only what the spec cannot say is SQL here. -#}
with heart_rate_observations as (

    select * from {{ ref('base_healthlake__sof_heart_rate_observations') }}

)

select
    observation_id,
    {{ fhir_reference_id('subject_reference') }} as patient_id,
    {{ fhir_reference_id('encounter_reference', 'Encounter') }} as encounter_id,
    status,
    {{ fhir_timestamp('effective') }} as effective_at,
    heart_rate_bpm,
    heart_rate_unit
from heart_rate_observations
