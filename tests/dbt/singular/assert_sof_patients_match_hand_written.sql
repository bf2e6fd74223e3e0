{#- The ViewDefinition-based staging gives exactly the rows of the hand-written stg_healthlake__patients. -#}
{{ sof_rows_differ(ref('stg_healthlake__patients'), ref('stg_healthlake__sof_patients')) }}
