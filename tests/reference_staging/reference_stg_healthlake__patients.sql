{{ config(enabled=var('p360_reference_staging', false)) }}
{#- The hand-written stg_healthlake__patients, kept as the reference the ViewDefinition-based model is compared with (tests/python/integration/test_sql_on_fhir_staging_differential.py); built only with --vars '{p360_reference_staging: true}'. -#}
{#- One row per FHIR Patient: preferred name, demographics, MRN, deceased flag, US Core race/ethnicity. -#}
{%- set race_url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race' -%}
{%- set ethnicity_url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity' -%}

with patients as (

    select * from {{ source('healthlake', 'patient') }}

),

names_ranked as (

    {#- Preferred name: official, then usual, then unlabelled, then the rest; ties by array position. #}
    select
        patients.id as patient_id,
        {{ fhir_text('person_name.family') }} as family_name,
        {{ fhir_text(fhir_first('person_name.given')) }} as given_name,
        {{ fhir_text(fhir_first('person_name.prefix')) }} as name_prefix,
        row_number() over (
            partition by patients.id
            order by
                case {{ fhir_text('person_name.' ~ adapter.quote('use')) }}
                    when 'official' then 1
                    when 'usual' then 2
                    when 'old' then 8
                    when 'maiden' then 9
                    else 3
                end,
                name_index
        ) as name_preference
    from patients
    {{ left_join_unnest('patients.name', 'person_name', 'name_index') }}

),

preferred_names as (

    select
        patient_id,
        family_name,
        given_name,
        name_prefix
    from names_ranked
    where name_preference = 1

),

medical_record_numbers as (

    {#- MRN: the identifier typed v2-0203 "MR"; the lowest value when a patient has several. #}
    select
        patients.id as patient_id,
        min({{ fhir_text('patient_identifier.value') }}) as mrn
    from patients
    {{ left_join_unnest('patients.identifier', 'patient_identifier') }}
    {{ left_join_unnest('patient_identifier.type.coding', 'identifier_type') }}
    where
        {{ fhir_text('identifier_type.code') }} = 'MR'
        and {{ fhir_text('identifier_type.' ~ adapter.quote('system')) }} = 'http://terminology.hl7.org/CodeSystem/v2-0203'
    group by patients.id

),

phones_ranked as (

    select
        patients.id as patient_id,
        {{ fhir_text('contact_point.value') }} as phone_number,
        row_number() over (
            partition by patients.id
            {#- FHIR: rank 1 is the most preferred; unranked numbers in the order listed. #}
            order by
                case when {{ fhir_number('contact_point.rank') }} is null then 1 else 0 end,
                {{ fhir_number('contact_point.rank') }},
                telecom_index
        ) as phone_preference
    from patients
    {{ left_join_unnest('patients.telecom', 'contact_point', 'telecom_index') }}
    where {{ fhir_text('contact_point.' ~ adapter.quote('system')) }} = 'phone'

),

extensions as (

    select
        patients.id as patient_id,
        {{ fhir_text('extension_json') }} as extension_json,
        {{ fhir_json_text(fhir_text('extension_json'), ['url']) }} as extension_url
    from patients
    {{ left_join_unnest('patients.extension', 'extension_json') }}

),

race_and_ethnicity as (

    select
        patient_id,
        max(
            case
                when extension_url = '{{ race_url }}'
                    then {{ fhir_subextension_value('extension_json', 'text', 'valueString') }}
            end
        ) as race,
        max(
            case
                when extension_url = '{{ ethnicity_url }}'
                    then {{ fhir_subextension_value('extension_json', 'text', 'valueString') }}
            end
        ) as ethnicity
    from extensions
    where extension_url in ('{{ race_url }}', '{{ ethnicity_url }}')
    group by patient_id

)

select
    patients.id as patient_id,
    medical_record_numbers.mrn,
    preferred_names.given_name,
    preferred_names.family_name,
    preferred_names.name_prefix,
    patients.gender,
    patients.birthdate as birth_date_text,
    {{ fhir_date('patients.birthdate') }} as birth_date,
    coalesce(patients.deceasedboolean, false) or patients.deceaseddatetime is not null as is_deceased,
    {{ fhir_timestamp('patients.deceaseddatetime') }} as deceased_at,
    race_and_ethnicity.race,
    race_and_ethnicity.ethnicity,
    phones_ranked.phone_number,
    {{ fhir_text(fhir_first('patients.address') ~ '.city') }} as address_city,
    {{ fhir_text(fhir_first('patients.address') ~ '.state') }} as address_state,
    {{ fhir_text(fhir_first('patients.address') ~ '.postalcode') }} as address_postal_code,
    {{ fhir_timestamp('patients.meta.lastupdated') }} as source_last_updated_at
from patients
left join preferred_names
    on patients.id = preferred_names.patient_id
left join medical_record_numbers
    on patients.id = medical_record_numbers.patient_id
left join phones_ranked
    on
        patients.id = phones_ranked.patient_id
        and phones_ranked.phone_preference = 1
left join race_and_ethnicity
    on patients.id = race_and_ethnicity.patient_id
