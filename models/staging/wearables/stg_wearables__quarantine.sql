{#- Stream records that cannot be used, with the reason and the partition/offset to find them by (the
    role SYS_STREAM_SCAN_ERRORS plays for records Redshift cannot ingest). Counted, never blocking the
    stream, never silently dropped. Each source view keeps its own watermark: on Redshift the two
    streaming views refresh independently. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['wearables'],
    )
}}

with rejected_records as (

    select
        cast('base_wearables__stream' as varchar) as source_view,
        kafka_partition,
        kafka_offset,
        arrived_at,
        refresh_time,
        event_id,
        cast(rejection_reason as varchar) as rejection_reason
    from {{ ref('stg_wearables__records') }}
    where
        rejection_reason is not null
        {% if is_incremental() %}
            and {{ stream_refreshed_after_processed(processed_where="processed.source_view = 'base_wearables__stream'") }}
        {% endif %}

),

unparsable_records as (

    select
        cast('base_wearables__stream_unparsable' as varchar) as source_view,
        kafka_partition,
        kafka_offset,
        kafka_timestamp as arrived_at,
        refresh_time,
        cast(null as varchar) as event_id,
        cast('not_json' as varchar) as rejection_reason
    from {{ ref('base_wearables__stream_unparsable') }}
    {% if is_incremental() %}
        where {{ stream_refreshed_after_processed(
            processed_where="processed.source_view = 'base_wearables__stream_unparsable'"
        ) }}
    {% endif %}

),

all_rejections as (

    select * from rejected_records
    union all
    select * from unparsable_records

)

{% if is_incremental() %}

, watermarks as (

    select
        source_view,
        kafka_partition,
        max(kafka_offset) as max_offset
    from {{ this }}
    group by source_view, kafka_partition

)

{% endif %}

select
    all_rejections.source_view,
    all_rejections.kafka_partition,
    all_rejections.kafka_offset,
    all_rejections.arrived_at,
    all_rejections.refresh_time,
    all_rejections.event_id,
    all_rejections.rejection_reason,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as quarantined_at
from all_rejections
{% if is_incremental() %}
    left join watermarks
        on
            all_rejections.source_view = watermarks.source_view
            and all_rejections.kafka_partition = watermarks.kafka_partition
    where all_rejections.kafka_offset > coalesce(watermarks.max_offset, -1)
{% endif %}
