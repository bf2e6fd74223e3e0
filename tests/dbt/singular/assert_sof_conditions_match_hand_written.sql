{#- The ViewDefinition-based staging gives exactly the rows of the hand-written stg_healthlake__conditions. -#}
{{ sof_rows_differ(ref('stg_healthlake__conditions'), ref('stg_healthlake__sof_conditions')) }}
