{#- The base streaming view: a streaming materialized view on Redshift (auto refresh from MSK), a
    plain view over the attached landing table locally (the ingestor does the "refresh"). -#}
{% macro wearables_streaming_materialization() %}
    {{ return(adapter.dispatch('wearables_streaming_materialization')()) }}
{% endmacro %}

{% macro redshift__wearables_streaming_materialization() %}
    {{ return('materialized_view') }}
{% endmacro %}

{% macro default__wearables_streaming_materialization() %}
    {{ return('view') }}
{% endmacro %}


{#- CAN_JSON_PARSE / JSON_PARSE over the record value (VARBYTE on Redshift, BLOB locally). -#}
{% macro stream_can_json_parse(value) %}
    {{ return(adapter.dispatch('stream_can_json_parse')(value)) }}
{% endmacro %}

{#- coalesce: a null value (tombstone) is not JSON, and must land in the unparsable view, not in neither. -#}
{% macro redshift__stream_can_json_parse(value) -%}
    coalesce(can_json_parse({{ value }}), false)
{%- endmacro %}

{% macro duckdb__stream_can_json_parse(value) -%}
    coalesce(json_valid(try(decode({{ value }}))), false)
{%- endmacro %}


{% macro stream_json_parse(value) %}
    {{ return(adapter.dispatch('stream_json_parse')(value)) }}
{% endmacro %}

{% macro redshift__stream_json_parse(value) -%}
    json_parse({{ value }})
{%- endmacro %}

{% macro duckdb__stream_json_parse(value) -%}
    try(json(decode({{ value }})))
{%- endmacro %}
