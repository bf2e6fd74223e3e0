{#- The records the base streaming view filters out (value is not JSON): metadata only, so they can be
    quarantined with their offsets instead of silently skipped. The value itself is not copied. -#}
{{
    config(
        materialized=wearables_streaming_materialization(),
        auto_refresh=true,
        tags=['wearables'],
        enabled=(wearables_stream_kind() == 'msk'),
    )
}}

select
    kafka_partition,
    kafka_offset,
    kafka_timestamp_type,
    kafka_timestamp,
    refresh_time
from {{ source('wearables_msk', 'wearables_stream') }}
where not {{ stream_can_json_parse('kafka_value') }}
