{#- The ViewDefinition-based staging gives exactly the rows of the hand-written stg_healthlake__allergy_intolerances. -#}
{{ sof_rows_differ(ref('stg_healthlake__allergy_intolerances'), ref('stg_healthlake__sof_allergy_intolerances')) }}
