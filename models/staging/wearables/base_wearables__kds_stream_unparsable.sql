{#- The Kinesis records the base streaming view filters out (data is not JSON): metadata only, so they are
    quarantined with their shard and sequence number instead of silently skipped. -#}
{{
    config(
        materialized=wearables_streaming_materialization(),
        auto_refresh=true,
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
from {{ source('wearables_kds', 'wearables_stream') }}
where not {{ stream_can_json_parse('kinesis_data') }}
