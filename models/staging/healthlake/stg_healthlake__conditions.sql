{#- stg_healthlake__conditions from its ViewDefinition: only what the spec cannot say is SQL here. -#}
with conditions as (

    select * from {{ ref('base_healthlake__sof_conditions') }}

)

select
    condition_id,
    {{ fhir_reference_id('subject_reference') }} as patient_id,
    {{ fhir_reference_id('encounter_reference', 'Encounter') }} as encounter_id,
    clinical_status,
    verification_status,
    category_code,
    condition_system,
    condition_code,
    coalesce(condition_text, condition_display) as condition_description,
    {{ fhir_timestamp('onset') }} as onset_at,
    {{ fhir_timestamp('abatement') }} as abated_at,
    {{ fhir_date('recorded') }} as recorded_date,
    coalesce(clinical_status in ('active', 'recurrence', 'relapse'), false) as is_active
from conditions
