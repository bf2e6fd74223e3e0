{#- stg_healthlake__patients from its ViewDefinitions: the spec flattens, SQL keeps what it cannot say
    (name and phone preference ranking, MRN choice, US Core race/ethnicity read from extension JSON). -#}
{%- set race_url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race' -%}
{%- set ethnicity_url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity' -%}

with patients as (

    select * from {{ ref('base_healthlake__sof_patients') }}

),

names_ranked as (

    {#- Preferred name: official, then usual, then unlabelled, then the rest; ties by array position. #}
    select
        patient_id,
        family_name,
        given_name,
        name_prefix,
        row_number() over (
            partition by patient_id
            order by
                case name_use
                    when 'official' then 1
                    when 'usual' then 2
                    when 'old' then 8
                    when 'maiden' then 9
                    else 3
                end,
                name_index
        ) as name_preference
    from {{ ref('base_healthlake__sof_patient_names') }}

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
        patient_id,
        min(identifier_value) as mrn
    from {{ ref('base_healthlake__sof_patient_identifier_types') }}
    where
        type_code = 'MR'
        and type_system = 'http://terminology.hl7.org/CodeSystem/v2-0203'
    group by patient_id

),

phones_ranked as (

    select
        patient_id,
        telecom_value as phone_number,
        row_number() over (
            partition by patient_id
            {#- FHIR: rank 1 is the most preferred; unranked numbers in the order listed. #}
            order by
                case when telecom_rank is null then 1 else 0 end,
                telecom_rank,
                telecom_index
        ) as phone_preference
    from {{ ref('base_healthlake__sof_patient_telecoms') }}
    where telecom_system = 'phone'

),

extensions as (

    select
        patient_id,
        extension_json,
        {{ fhir_json_text('extension_json', ['url']) }} as extension_url
    from {{ ref('base_healthlake__sof_patient_extensions') }}

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
    patients.patient_id,
    medical_record_numbers.mrn,
    preferred_names.given_name,
    preferred_names.family_name,
    preferred_names.name_prefix,
    patients.gender,
    patients.birth_date as birth_date_text,
    {{ fhir_date('patients.birth_date') }} as birth_date,
    coalesce(patients.deceased_boolean, false) or patients.deceased_date_time is not null as is_deceased,
    {{ fhir_timestamp('patients.deceased_date_time') }} as deceased_at,
    race_and_ethnicity.race,
    race_and_ethnicity.ethnicity,
    phones_ranked.phone_number,
    patients.address_city,
    patients.address_state,
    patients.address_postal_code,
    {{ fhir_timestamp('patients.last_updated') }} as source_last_updated_at
from patients
left join preferred_names
    on patients.patient_id = preferred_names.patient_id
left join medical_record_numbers
    on patients.patient_id = medical_record_numbers.patient_id
left join phones_ranked
    on
        patients.patient_id = phones_ranked.patient_id
        and phones_ranked.phone_preference = 1
left join race_and_ethnicity
    on patients.patient_id = race_and_ethnicity.patient_id
