{#- The stream records whose value is not JSON: metadata only, so they can be quarantined with their offsets
    instead of silently skipped. A view over the one streaming view (never a second read of the stream). -#}
{{
    config(
        materialized='view',
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
from {{ ref('base_wearables__stream') }}
where not is_json
