{#- stg_healthlake__encounters from its ViewDefinition: only what the spec cannot say is SQL here. -#}
with encounters as (

    select * from {{ ref('base_healthlake__sof_encounters') }}

)

select
    encounter_id,
    {{ fhir_reference_id('subject_reference') }} as patient_id,
    status,
    encounter_class,
    encounter_type_code,
    coalesce(encounter_type_text, encounter_type_display) as encounter_type_description,
    reason_code,
    {{ fhir_timestamp('period_start') }} as started_at,
    {{ fhir_timestamp('period_end') }} as ended_at,
    {{ fhir_reference_id('service_provider_reference', 'Organization') }} as service_provider_id
from encounters
