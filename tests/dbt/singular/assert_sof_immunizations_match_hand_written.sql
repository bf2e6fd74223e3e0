{#- The ViewDefinition-based staging gives exactly the rows of the hand-written stg_healthlake__immunizations. -#}
{{ sof_rows_differ(ref('stg_healthlake__immunizations'), ref('stg_healthlake__sof_immunizations')) }}
