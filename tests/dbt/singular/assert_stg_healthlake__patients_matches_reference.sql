{{ config(enabled=var('p360_reference_staging', false)) }}
{#- stg_healthlake__patients (from its ViewDefinition) gives exactly the rows of the hand-written reference. -#}
{{ sof_rows_differ(ref('reference_stg_healthlake__patients'), ref('stg_healthlake__patients')) }}
