{#-
    One row per Patient x identifier (MRN, SSN, ..., and the fullUrl the importer records from a bundle
    entry as system urn:ietf:rfc:3986): what logical, conditional, urn:uuid and contained references match.
-#}
with patients as (

    select * from {{ source('healthlake', 'patient') }}

)

select
    {{ fhir_text('patients.id') }} as patient_id,
    {{ fhir_text('patient_identifier.' ~ adapter.quote('system')) }} as identifier_system,
    {{ fhir_text('patient_identifier.value') }} as identifier_value
from patients
{{ left_join_unnest('patients.identifier', 'patient_identifier') }}
where patient_identifier.value is not null
