{#- The ViewDefinition-based staging gives exactly the rows of the hand-written stg_healthlake__heart_rate_observations. -#}
{{ sof_rows_differ(ref('stg_healthlake__heart_rate_observations'), ref('stg_healthlake__sof_heart_rate_observations')) }}
