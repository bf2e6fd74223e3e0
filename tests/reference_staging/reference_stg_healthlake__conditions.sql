{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__conditions, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#- One row per FHIR Condition, with its first coding and whether it is clinically active. -#}
with conditions as (

    select * from {{ source('healthlake', 'condition') }}

)

select
    conditions.id as condition_id,
    {{ fhir_reference_id('conditions.subject.reference') }} as patient_id,
    {{ fhir_reference_id('conditions.encounter.reference', 'Encounter') }} as encounter_id,
    {{ fhir_text(fhir_first('conditions.clinicalstatus.coding') ~ '.code') }} as clinical_status,
    {{ fhir_text(fhir_first('conditions.verificationstatus.coding') ~ '.code') }} as verification_status,
    {{ fhir_text(fhir_first(fhir_first('conditions.category') ~ '.coding') ~ '.code') }} as category_code,
    {{ fhir_text(fhir_first('conditions.code.coding') ~ '.' ~ adapter.quote('system')) }} as condition_system,
    {{ fhir_text(fhir_first('conditions.code.coding') ~ '.code') }} as condition_code,
    coalesce(
        {{ fhir_text('conditions.code.text') }}, {{ fhir_text(fhir_first('conditions.code.coding') ~ '.display') }}
    ) as condition_description,
    {{ fhir_timestamp('conditions.onsetdatetime') }} as onset_at,
    {{ fhir_timestamp('conditions.abatementdatetime') }} as abated_at,
    {{ fhir_date('conditions.recordeddate') }} as recorded_date,
    coalesce(
        {{ fhir_text(fhir_first('conditions.clinicalstatus.coding') ~ '.code') }} in ('active', 'recurrence', 'relapse'),
        false
    ) as is_active
from conditions
