{#- Per patient: allergy count, their descriptions, highest criticality, anaphylaxis history. -#}
with allergy_reactions as (

    select * from {{ ref('stg_healthlake__allergy_intolerances') }}

),

criticality_ranks as (

    select * from {{ ref('allergy_criticality_ranks') }}

),

resolved_references as (

    {#- Only allergies of a known patient (the others are in fct_unresolved_patient_references). #}
    select * from {{ ref('int_patient_references_resolved') }}
    where resource_type = 'AllergyIntolerance' and patient_id is not null

),

allergies as (

    {#- Back to one row per allergy (staging is one row per reaction coding). #}
    select
        allergy_reactions.allergy_id,
        resolved_references.patient_id,
        allergy_reactions.allergen_description,
        allergy_reactions.criticality,
        max(case when allergy_reactions.is_anaphylaxis then 1 else 0 end) as anaphylaxis_flag,
        max(case when allergy_reactions.has_reaction then 1 else 0 end) as reaction_flag
    from allergy_reactions
    inner join resolved_references
        on allergy_reactions.allergy_id = resolved_references.resource_id
    group by
        allergy_reactions.allergy_id,
        resolved_references.patient_id,
        allergy_reactions.allergen_description,
        allergy_reactions.criticality

),

descriptions_listed as (

    {{ bounded_listagg('allergies', 'patient_id', 'allergen_description', 'allergy_descriptions') }}

),

allergies_counted as (

    select
        allergies.patient_id,
        count(*) as allergy_count,
        sum(1 - allergies.reaction_flag) as allergies_without_reaction_count,
        max(allergies.anaphylaxis_flag) = 1 as has_anaphylaxis,
        max(criticality_ranks.criticality_rank) as highest_criticality_rank
    from allergies
    left join criticality_ranks
        on allergies.criticality = criticality_ranks.criticality
    group by allergies.patient_id

)

select
    allergies_counted.patient_id,
    allergies_counted.allergy_count,
    allergies_counted.allergies_without_reaction_count,
    allergies_counted.has_anaphylaxis,
    criticality_ranks.criticality as highest_criticality,
    descriptions_listed.allergy_descriptions
from allergies_counted
left join criticality_ranks
    on allergies_counted.highest_criticality_rank = criticality_ranks.criticality_rank
left join descriptions_listed
    on allergies_counted.patient_id = descriptions_listed.patient_id
