{#- The one streaming view over the topic, kept minimal as AWS advises: metadata columns plus the parsed payload
    (null when the value is not JSON, is_json false). One streaming materialized view per stream: a second one
    on the same topic would double what Redshift reads from the stream
    (https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html). The non-JSON
    records are read from here by base_wearables__stream_unparsable, not from the stream again. -#}
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
    {{ stream_can_json_parse('kafka_value') }} as is_json,
    case when {{ stream_can_json_parse('kafka_value') }} then {{ stream_json_parse('kafka_value') }} end as payload
from {{ source('wearables_msk', 'wearables_stream') }}
