{#- The base streaming view over Kinesis Data Streams (P360_STREAM_KIND=kinesis), as the reference solution
    defines it: the stream's metadata columns plus JSON_PARSE(kinesis_data) where CAN_JSON_PARSE, auto refresh
    on Redshift; locally a view over the attached landing table the Kinesis ingestor fills.
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
    {{ stream_json_parse('kinesis_data') }} as payload
from {{ source('wearables_kds', 'wearables_stream') }}
where {{ stream_can_json_parse('kinesis_data') }}
