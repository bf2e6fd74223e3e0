{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__immunizations, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#- One row per FHIR Immunization (vaccine as CVX when coded). -#}
with immunizations as (

    select * from {{ source('healthlake', 'immunization') }}

)

select
    immunizations.id as immunization_id,
    {{ fhir_reference_id('immunizations.patient.reference') }} as patient_id,
    {{ fhir_reference_id('immunizations.encounter.reference', 'Encounter') }} as encounter_id,
    immunizations.status,
    {{ fhir_text(fhir_first('immunizations.vaccinecode.coding') ~ '.' ~ adapter.quote('system')) }} as vaccine_system,
    {{ fhir_text(fhir_first('immunizations.vaccinecode.coding') ~ '.code') }} as vaccine_code,
    coalesce(
        {{ fhir_text('immunizations.vaccinecode.text') }},
        {{ fhir_text(fhir_first('immunizations.vaccinecode.coding') ~ '.display') }}
    ) as vaccine_description,
    {{ fhir_timestamp('immunizations.occurrencedatetime') }} as occurred_at,
    {{ fhir_date('immunizations.occurrencedatetime') }} as occurred_date,
    immunizations.primarysource as is_primary_source
from immunizations
