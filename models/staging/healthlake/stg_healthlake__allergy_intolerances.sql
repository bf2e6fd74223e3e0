{#- stg_healthlake__allergy_intolerances from its ViewDefinition: only what the spec cannot say is SQL here
    (null indexes for the rows forEachOrNull keeps, the category list, the anaphylaxis flag). -#}
with allergy_rows as (

    select * from {{ ref('base_healthlake__sof_allergy_intolerances') }}

),

allergy_categories as (

    select
        allergy_id,
        {{ listagg('category', "','", 'order by category') }} as categories
    from {{ ref('stg_healthlake__allergy_categories') }}
    where category is not null
    group by allergy_id

),

indexed as (

    select
        allergy_rows.*,
        case when reaction_present then reaction_index end as reaction_position,
        case when manifestation_present then manifestation_index end as manifestation_position,
        case when coding_present then coding_index end as coding_position
    from allergy_rows

)

select
    {{ concat_ws_nullsafe("'-'", [
        'indexed.allergy_id',
        'indexed.reaction_position',
        'indexed.manifestation_position',
        'indexed.coding_position',
    ]) }} as allergy_reaction_key,
    indexed.allergy_id,
    {{ fhir_reference_id('indexed.patient_reference') }} as patient_id,
    indexed.clinical_status,
    indexed.verification_status,
    indexed.allergy_type,
    allergy_categories.categories,
    indexed.criticality,
    indexed.allergen_system,
    indexed.allergen_code,
    coalesce(indexed.allergen_text, indexed.allergen_display) as allergen_description,
    indexed.recorded as recorded_date_text,
    {{ fhir_date('indexed.recorded') }} as recorded_date,
    {{ fhir_timestamp('indexed.onset') }} as onset_at,
    indexed.reaction_position as reaction_index,
    indexed.reaction_severity,
    indexed.reaction_text,
    indexed.manifestation_position as manifestation_index,
    indexed.manifestation_text,
    indexed.coding_position as coding_index,
    indexed.manifestation_system,
    indexed.manifestation_code,
    indexed.manifestation_display,
    indexed.reaction_position is not null as has_reaction,
    {#- Per manifestation, whichever of its codings says so (SNOMED 39579001, ICD-10-CM T78.2*). #}
    max(
        case
            when
                (
                    indexed.manifestation_system = 'http://snomed.info/sct'
                    and indexed.manifestation_code = '39579001'
                )
                or (
                    indexed.manifestation_system = 'http://hl7.org/fhir/sid/icd-10-cm'
                    and indexed.manifestation_code like 'T78.2%'
                )
                then 1
            else 0
        end
    ) over (
        partition by indexed.allergy_id, indexed.reaction_position, indexed.manifestation_position
    ) = 1 as is_anaphylaxis
from indexed
left join allergy_categories
    on indexed.allergy_id = allergy_categories.allergy_id
