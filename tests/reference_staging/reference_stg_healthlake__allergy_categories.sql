{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__allergy_categories, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#- One row per allergy x category, left-outer: an allergy with no category keeps one row (null). -#}
with allergies as (

    select * from {{ source('healthlake', 'allergyintolerance') }}

)

select
    {{ concat_ws_nullsafe("'-'", ['allergies.id', 'category_index']) }} as allergy_category_key,
    allergies.id as allergy_id,
    {{ fhir_reference_id('allergies.patient.reference') }} as patient_id,
    category_index,
    {{ fhir_text('allergy_category') }} as category
from allergies
{{ left_join_unnest('allergies.category', 'allergy_category', 'category_index') }}
