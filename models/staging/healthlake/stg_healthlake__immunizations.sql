{#- stg_healthlake__immunizations from its ViewDefinition: only what the spec cannot say is SQL here. -#}
with immunizations as (

    select * from {{ ref('base_healthlake__sof_immunizations') }}

)

select
    immunization_id,
    {{ fhir_reference_id('patient_reference') }} as patient_id,
    {{ fhir_reference_id('encounter_reference', 'Encounter') }} as encounter_id,
    status,
    vaccine_system,
    vaccine_code,
    coalesce(vaccine_text, vaccine_display) as vaccine_description,
    {{ fhir_timestamp('occurrence') }} as occurred_at,
    {{ fhir_date('occurrence') }} as occurred_date,
    is_primary_source
from immunizations
