{#- The one streaming view over the Kinesis stream (P360_STREAM_KIND=kinesis), as the reference solution defines
    it: the stream's metadata columns plus JSON_PARSE(kinesis_data) when CAN_JSON_PARSE (is_json), auto refresh
    on Redshift; locally a view over the attached landing table the Kinesis ingestor fills. One streaming view per
    stream: the non-JSON records are read from here by base_wearables__kds_stream_unparsable.
    https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion-getting-started.html -#}
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
    refresh_time,
    {{ stream_can_json_parse('kinesis_data') }} as is_json,
    case when {{ stream_can_json_parse('kinesis_data') }} then {{ stream_json_parse('kinesis_data') }} end as payload
from {{ source('wearables_kds', 'wearables_stream') }}
