{#- The base streaming view, kept minimal as AWS advises: metadata columns plus the parsed payload.
    Records that are not JSON are in base_wearables__stream_unparsable, not lost. -#}
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
    kafka_key,
    kafka_headers,
    refresh_time,
    {{ stream_json_parse('kafka_value') }} as payload
from {{ source('wearables_msk', 'wearables_stream') }}
where {{ stream_can_json_parse('kafka_value') }}
