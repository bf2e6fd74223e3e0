{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__allergy_intolerances, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#-
    One row per allergy x reaction x manifestation coding, left-outer: an allergy with no reaction (or a
    manifestation with no coding) keeps exactly one row with null reaction columns, as the reference
    query's `LEFT JOIN ... ON TRUE` does. Categories are listed per allergy rather than multiplying rows.
-#}
with allergies as (

    select * from {{ source('healthlake', 'allergyintolerance') }}

),

allergy_categories as (

    select
        allergies.id as allergy_id,
        {{ listagg(fhir_text('allergy_category'), "','", 'order by ' ~ fhir_text('allergy_category')) }} as categories
    from allergies
    {{ left_join_unnest('allergies.category', 'allergy_category') }}
    where {{ fhir_text('allergy_category') }} is not null
    group by allergies.id

),

reaction_codings as (

    select
        allergies.id as allergy_id,
        reaction_index,
        {{ fhir_text('allergy_reaction.severity') }} as reaction_severity,
        {{ fhir_text('allergy_reaction.description') }} as reaction_text,
        manifestation_index,
        {{ fhir_text('manifestation.text') }} as manifestation_text,
        coding_index,
        {{ fhir_text('manifestation_coding.' ~ adapter.quote('system')) }} as manifestation_system,
        {{ fhir_text('manifestation_coding.code') }} as manifestation_code,
        {{ fhir_text('manifestation_coding.display') }} as manifestation_display
    from allergies
    {{ left_join_unnest('allergies.reaction', 'allergy_reaction', 'reaction_index') }}
    {{ left_join_unnest('allergy_reaction.manifestation', 'manifestation', 'manifestation_index') }}
    {{ left_join_unnest('manifestation.coding', 'manifestation_coding', 'coding_index') }}

)

select
    {{ concat_ws_nullsafe("'-'", [
        'allergies.id',
        'reaction_codings.reaction_index',
        'reaction_codings.manifestation_index',
        'reaction_codings.coding_index',
    ]) }} as allergy_reaction_key,
    allergies.id as allergy_id,
    {{ fhir_reference_id('allergies.patient.reference') }} as patient_id,
    {{ fhir_text(fhir_first('allergies.clinicalstatus.coding') ~ '.code') }} as clinical_status,
    {{ fhir_text(fhir_first('allergies.verificationstatus.coding') ~ '.code') }} as verification_status,
    allergies.type as allergy_type,
    allergy_categories.categories,
    allergies.criticality,
    {{ fhir_text(fhir_first('allergies.code.coding') ~ '.' ~ adapter.quote('system')) }} as allergen_system,
    {{ fhir_text(fhir_first('allergies.code.coding') ~ '.code') }} as allergen_code,
    coalesce(
        {{ fhir_text('allergies.code.text') }}, {{ fhir_text(fhir_first('allergies.code.coding') ~ '.display') }}
    ) as allergen_description,
    allergies.recordeddate as recorded_date_text,
    {{ fhir_date('allergies.recordeddate') }} as recorded_date,
    {{ fhir_timestamp('allergies.onsetdatetime') }} as onset_at,
    reaction_codings.reaction_index,
    reaction_codings.reaction_severity,
    reaction_codings.reaction_text,
    reaction_codings.manifestation_index,
    reaction_codings.manifestation_text,
    reaction_codings.coding_index,
    reaction_codings.manifestation_system,
    reaction_codings.manifestation_code,
    reaction_codings.manifestation_display,
    reaction_codings.reaction_index is not null as has_reaction,
    {#- Per manifestation, whichever of its codings says so (SNOMED 39579001, ICD-10-CM T78.2*). #}
    max(
        case
            when
                (
                    reaction_codings.manifestation_system = 'http://snomed.info/sct'
                    and reaction_codings.manifestation_code = '39579001'
                )
                or (
                    reaction_codings.manifestation_system = 'http://hl7.org/fhir/sid/icd-10-cm'
                    and reaction_codings.manifestation_code like 'T78.2%'
                )
                then 1
            else 0
        end
    ) over (
        partition by allergies.id, reaction_codings.reaction_index, reaction_codings.manifestation_index
    ) = 1 as is_anaphylaxis
from allergies
inner join reaction_codings
    on allergies.id = reaction_codings.allergy_id
left join allergy_categories
    on allergies.id = allergy_categories.allergy_id
