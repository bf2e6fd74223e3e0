{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__encounters, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#- One row per FHIR Encounter (visit): class, type, period, reason. -#}
with encounters as (

    select * from {{ source('healthlake', 'encounter') }}

)

select
    encounters.id as encounter_id,
    {{ fhir_reference_id('encounters.subject.reference') }} as patient_id,
    encounters.status,
    {{ fhir_text('encounters.' ~ adapter.quote('class') ~ '.code') }} as encounter_class,
    {{ fhir_text(fhir_first(fhir_first('encounters.type') ~ '.coding') ~ '.code') }} as encounter_type_code,
    coalesce(
        {{ fhir_text(fhir_first('encounters.type') ~ '.text') }},
        {{ fhir_text(fhir_first(fhir_first('encounters.type') ~ '.coding') ~ '.display') }}
    ) as encounter_type_description,
    {{ fhir_text(fhir_first(fhir_first('encounters.reasoncode') ~ '.coding') ~ '.code') }} as reason_code,
    {{ fhir_timestamp('encounters.period.start') }} as started_at,
    {{ fhir_timestamp('encounters.period.' ~ adapter.quote('end')) }} as ended_at,
    {{ fhir_reference_id('encounters.serviceprovider.reference', 'Organization') }} as service_provider_id
from encounters
