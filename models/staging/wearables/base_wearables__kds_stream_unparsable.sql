{#- The Kinesis records whose data is not JSON: metadata only, so they are quarantined with their shard and
    sequence number instead of silently skipped. A view over the one streaming view (never a second read). -#}
{{
    config(
        materialized='view',
        tags=['wearables'],
        enabled=(wearables_stream_kind() == 'kinesis'),
    )
}}

select
    approximate_arrival_timestamp,
    partition_key,
    shard_id,
    sequence_number,
    refresh_time
from {{ ref('base_wearables__kds_stream') }}
where not is_json
