{#-
    Reference analysis 1's grain: allergy x category x reaction x manifestation x coding, left-outer,
    with 'NA' for a missing reaction code or description.
-#}
with allergy_reactions as (

    select * from {{ ref('stg_healthlake__allergy_intolerances') }}

),

allergy_categories as (

    select * from {{ ref('stg_healthlake__allergy_categories') }}

),

resolved_references as (

    {#- Only allergies of a known patient (the others are in fct_unresolved_patient_references). #}
    select * from {{ ref('int_patient_references_resolved') }}
    where resource_type = 'AllergyIntolerance' and patient_id is not null

)

select
    {{ concat_ws_nullsafe("'-'", [
        'allergy_reactions.allergy_reaction_key', 'allergy_categories.category_index'
    ]) }} as allergy_row_key,
    allergy_reactions.allergy_id,
    resolved_references.patient_id,
    coalesce(allergy_categories.category, 'NA') as category,
    allergy_reactions.recorded_date,
    allergy_reactions.clinical_status,
    allergy_reactions.criticality,
    coalesce(allergy_reactions.allergen_code, 'NA') as allergen_code,
    coalesce(allergy_reactions.allergen_description, 'NA') as allergen_description,
    coalesce(allergy_reactions.manifestation_code, 'NA') as allergy_code,
    coalesce(allergy_reactions.manifestation_display, 'NA') as allergy_description,
    allergy_reactions.reaction_severity,
    allergy_reactions.has_reaction,
    allergy_reactions.is_anaphylaxis
from allergy_reactions
inner join allergy_categories
    on allergy_reactions.allergy_id = allergy_categories.allergy_id
inner join resolved_references
    on allergy_reactions.allergy_id = resolved_references.resource_id
