{#-
    The patient reference of every allergy, condition, immunization, encounter and observation, split into
    the keys it can be resolved by (macro fhir_patient_reference_keys): one row per resource and key.
-#}
{{ fhir_patient_reference_keys([
    {'relation': source('healthlake', 'allergyintolerance'), 'resource_type': 'AllergyIntolerance', 'element': 'patient'},
    {'relation': source('healthlake', 'condition'), 'resource_type': 'Condition', 'element': 'subject'},
    {'relation': source('healthlake', 'immunization'), 'resource_type': 'Immunization', 'element': 'patient'},
    {'relation': source('healthlake', 'encounter'), 'resource_type': 'Encounter', 'element': 'subject'},
    {'relation': source('healthlake', 'observation'), 'resource_type': 'Observation', 'element': 'subject'},
]) }}
