{{ config(severity='warn') }}
{#- Warn when a front-desk table is not Synced: its rows in the warehouse may be stale or missing. -#}
select
    source_table_name,
    table_state,
    reason
from {{ ref('stg_front_desk__integration_table_state') }}
where table_state != 'Synced'
