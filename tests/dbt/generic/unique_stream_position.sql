{#- Generic test: each (kafka_partition, kafka_offset) appears at most once in the model. -#}
{% test unique_stream_position(model, partition_column='kafka_partition', offset_column='kafka_offset') %}

select
    {{ partition_column }},
    {{ offset_column }},
    count(*) as occurrences
from {{ model }}
group by {{ partition_column }}, {{ offset_column }}
having count(*) > 1

{% endtest %}
