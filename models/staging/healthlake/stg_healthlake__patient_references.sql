{#-
    The patient reference of every allergy, condition, immunization, encounter and observation, split into
    the keys it can be resolved by (macro fhir_patient_reference_keys): one row per resource and key.
-#}
{{ fhir_patient_reference_keys(source('healthlake', 'allergyintolerance'), 'AllergyIntolerance', 'patient') }}

union all

{{ fhir_patient_reference_keys(source('healthlake', 'condition'), 'Condition', 'subject') }}

union all

{{ fhir_patient_reference_keys(source('healthlake', 'immunization'), 'Immunization', 'patient') }}

union all

{{ fhir_patient_reference_keys(source('healthlake', 'encounter'), 'Encounter', 'subject') }}

union all

{{ fhir_patient_reference_keys(source('healthlake', 'observation'), 'Observation', 'subject') }}
