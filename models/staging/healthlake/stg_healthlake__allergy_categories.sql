{#- stg_healthlake__allergy_categories from its ViewDefinition: only what the spec cannot say is SQL here. -#}
with allergy_categories as (

    select * from {{ ref('base_healthlake__sof_allergy_categories') }}

),

{#- forEachOrNull gives %rowIndex 0 to the kept row of an allergy without category; staging says null. #}
indexed as (

    select
        allergy_id,
        patient_reference,
        case when category_present then category_index end as category_index,
        category
    from allergy_categories

)

select
    {{ concat_ws_nullsafe("'-'", ['allergy_id', 'category_index']) }} as allergy_category_key,
    allergy_id,
    {{ fhir_reference_id('patient_reference') }} as patient_id,
    category_index,
    category
from indexed
