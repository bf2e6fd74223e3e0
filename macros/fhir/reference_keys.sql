{#-
    The keys a FHIR reference to a Patient can be resolved by, one select per resource table (union them).

    Forms (FHIR R4 "Resource References", https://hl7.org/fhir/R4/references.html):
      relative     Patient/123                          -> referenced_id 123
      versioned    Patient/123/_history/2               -> referenced_id 123
      absolute     https://host/fhir/Patient/123[/_history/2] -> referenced_id 123
      urn_uuid     urn:uuid:<uuid>                      -> identifier (urn:ietf:rfc:3986, the urn): the importer
                                                           records a bundle entry's fullUrl that way
      conditional  Patient?identifier=system|value      -> identifier (system, value)
      identifier   {"identifier": {...}} and no literal -> identifier (system, value), e.g. the MRN
      contained    #p1                                  -> the identifiers of the contained resource p1
      other_type   Group/7, Practitioner/9, ...         -> not resolvable to a patient
      missing / unrecognised                            -> not resolvable
    `resources` lists the tables: [{'relation': source(...), 'resource_type': 'Condition', 'element': 'subject'}].
    A resource has one row per key (a contained patient with two identifiers gives two rows);
    int_patient_references_resolved joins them to the patients.

    Redshift: HealthLake's nested columns are SUPER, and a navigated SUPER value is cast to VARCHAR before any
    string function or join (https://docs.aws.amazon.com/redshift/latest/dg/r_SUPER_type.html,
    https://docs.aws.amazon.com/redshift/latest/dg/query-super.html: lax mode gives NULL for a wrong path);
    unnesting is PartiQL's `left join t.array as x on true` (macro left_join_unnest). Regular expressions are
    POSIX, REGEXP_INSTR / REGEXP_SUBSTR (https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_INSTR.html,
    https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_SUBSTR.html); no backslash in the patterns, since
    Redshift string literals process backslashes.
-#}
{% macro fhir_patient_reference_keys(resources) %}
    {{- return(adapter.dispatch('fhir_patient_reference_keys', 'patient360')(resources)) -}}
{% endmacro %}

{% macro redshift__fhir_patient_reference_keys(resources) -%}
    {{ fhir_patient_reference_keys_sql(resources, {
        'text': 'cast(%s as varchar(4096))',
        'matches': "regexp_instr(%s, '%s') > 0",
        'extract': "regexp_substr(%s, '%s')",
        'strip': "regexp_replace(%s, '%s', '')",
    }) }}
{%- endmacro %}

{% macro duckdb__fhir_patient_reference_keys(resources) -%}
    {{ fhir_patient_reference_keys_sql(resources, {
        'text': 'cast(%s as varchar)',
        'matches': "regexp_matches(%s, '%s')",
        'extract': "regexp_extract(%s, '%s')",
        'strip': "regexp_replace(%s, '%s', '')",
    }) }}
{%- endmacro %}

{#- The shared body: `sql` holds the dialect's text cast and regular-expression functions. -#}
{% macro fhir_patient_reference_keys_sql(resources, sql) -%}
    {%- set fhir_id = '[A-Za-z0-9.-]{1,64}' -%}
    {%- set history = '(/_history/' ~ fhir_id ~ ')?' -%}
    {%- set typed_literal = '^(https?://[^ ]+/)?[A-Z][A-Za-z]{1,63}/' ~ fhir_id ~ history ~ '$' -%}
with reference_values as (
    {%- for table in resources %}

    select
        '{{ table.resource_type }}' as resource_type,
        {{ sql.text | format('resources.id') }} as resource_id,
        {{ sql.text | format('resources.' ~ table.element ~ '.reference') }} as reference_text,
        {{ sql.text | format('resources.' ~ table.element ~ '.identifier.' ~ adapter.quote('system')) }}
            as reference_identifier_system,
        {{ sql.text | format('resources.' ~ table.element ~ '.identifier.value') }} as reference_identifier_value
    from {{ table.relation }} as resources
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

contained_identifiers as (
    {%- for table in resources %}

    select
        '{{ table.resource_type }}' as resource_type,
        {{ sql.text | format('resources.id') }} as resource_id,
        '#' || {{ sql.text | format('contained_resource.id') }} as contained_reference,
        {{ sql.text | format('contained_identifier.' ~ adapter.quote('system')) }} as identifier_system,
        {{ sql.text | format('contained_identifier.value') }} as identifier_value
    from {{ table.relation }} as resources
    {{ left_join_unnest('resources.contained', 'contained_resource') }}
    {{ left_join_unnest('contained_resource.identifier', 'contained_identifier') }}
    where contained_identifier.value is not null
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

reference_parts as (

    select
        resource_type,
        resource_id,
        reference_text,
        reference_identifier_system,
        reference_identifier_value,
        {{ sql.strip | format('reference_text', '/_history/' ~ fhir_id ~ '$') }} as literal_text,
        {#- FHIR token search syntax: identifier=[system]|value, or a bare value (any system). #}
        case
            when strpos(reference_text, '|') > 0 then split_part(reference_text, 'identifier=', 2)
            else '|' || split_part(reference_text, 'identifier=', 2)
        end as conditional_token,
        case
            when reference_text is null and reference_identifier_value is null then 'missing'
            when reference_text is null then 'identifier'
            when {{ sql.matches | format('reference_text', '^Patient/' ~ fhir_id ~ '$') }} then 'relative'
            when {{ sql.matches | format('reference_text', '^Patient/' ~ fhir_id ~ '/_history/' ~ fhir_id ~ '$') }}
                then 'versioned'
            when {{ sql.matches | format('reference_text', '^https?://[^ ]+/Patient/' ~ fhir_id ~ history ~ '$') }}
                then 'absolute'
            when {{ sql.matches | format('reference_text', '^urn:uuid:[0-9A-Fa-f-]{36}$') }} then 'urn_uuid'
            when {{ sql.matches | format('reference_text', '^Patient[?]identifier=[^ ]+$') }} then 'conditional'
            when {{ sql.matches | format('reference_text', '^#' ~ fhir_id ~ '$') }} then 'contained'
            when {{ sql.matches | format('reference_text', typed_literal) }} then 'other_type'
            else 'unrecognised'
        end as reference_form
    from reference_values

)

select
    reference_parts.resource_type,
    reference_parts.resource_id,
    reference_parts.reference_form,
    coalesce(
        reference_parts.reference_text,
        'identifier ' || coalesce(reference_parts.reference_identifier_system, '') || '|'
        || reference_parts.reference_identifier_value
    ) as reference_text,
    case
        when reference_parts.reference_form in ('relative', 'versioned', 'absolute', 'other_type')
            then split_part(
                {{ sql.extract | format('reference_parts.literal_text', '[A-Z][A-Za-z]{1,63}/' ~ fhir_id ~ '$') }},
                '/', 1
            )
    end as referenced_type,
    case
        when reference_parts.reference_form in ('relative', 'versioned', 'absolute')
            then {{ sql.extract | format('reference_parts.literal_text', '[^/]+$') }}
    end as referenced_id,
    case reference_parts.reference_form
        when 'urn_uuid' then 'urn:ietf:rfc:3986'
        when 'conditional' then nullif(split_part(reference_parts.conditional_token, '|', 1), '')
        when 'identifier' then reference_parts.reference_identifier_system
        when 'contained' then contained_identifiers.identifier_system
    end as identifier_system,
    case reference_parts.reference_form
        when 'urn_uuid' then reference_parts.reference_text
        when 'conditional' then nullif(split_part(reference_parts.conditional_token, '|', 2), '')
        when 'identifier' then reference_parts.reference_identifier_value
        when 'contained' then contained_identifiers.identifier_value
    end as identifier_value
from reference_parts
left join contained_identifiers
    on
        reference_parts.reference_form = 'contained'
        and reference_parts.resource_type = contained_identifiers.resource_type
        and reference_parts.resource_id = contained_identifiers.resource_id
        and reference_parts.reference_text = contained_identifiers.contained_reference
{%- endmacro %}
