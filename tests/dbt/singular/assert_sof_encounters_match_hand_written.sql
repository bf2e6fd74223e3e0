{#- The ViewDefinition-based staging gives exactly the rows of the hand-written stg_healthlake__encounters. -#}
{{ sof_rows_differ(ref('stg_healthlake__encounters'), ref('stg_healthlake__sof_encounters')) }}
