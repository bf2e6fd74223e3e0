{#-
    The raw outreach table, or an empty relation of the same columns before the first import: the table is
    created by the loader (COPY on Redshift), so a build that runs first must not fail on its absence.
-#}
{% macro outreach_events_or_empty() -%}
    {%- set relation = load_relation(source('engagement', 'outreach_events')) if execute else none -%}
    {%- if relation is not none -%}
        select * from {{ source('engagement', 'outreach_events') }}
    {%- else -%}
        select
            cast(null as varchar(256)) as patient_id,
            cast(null as varchar(256)) as event_type,
            cast(null as varchar(256)) as occurred_at,
            cast(null as varchar(1024)) as source_file,
            cast(null as integer) as source_row,
            cast(null as timestamp) as loaded_at
        where 1 = 0
    {%- endif -%}
{%- endmacro %}


{#-
    An ISO 8601 text time (YYYY-MM-DD[T ]HH:MM:SS, optional fraction and Z) as a UTC timestamp; null when the
    text is not one. DuckDB has try_cast; Redshift gets a shape check first (character classes, no
    backslashes: Redshift string literals process them).
-#}
{% macro iso_timestamp_or_null(text_expr) %}
    {{- return(adapter.dispatch('iso_timestamp_or_null', 'patient360')(text_expr)) -}}
{% endmacro %}

{% macro duckdb__iso_timestamp_or_null(text_expr) -%}
    case
        when regexp_full_match({{ text_expr }}, '{{ iso_timestamp_pattern() }}')
            then try_cast(replace(substring({{ text_expr }}, 1, 19), 'T', ' ') as timestamp)
    end
{%- endmacro %}

{% macro redshift__iso_timestamp_or_null(text_expr) -%}
    case
        when {{ text_expr }} ~ '^{{ iso_timestamp_pattern() }}$'
            then cast(replace(substring({{ text_expr }}, 1, 19), 'T', ' ') as timestamp)
    end
{%- endmacro %}

{% macro iso_timestamp_pattern() -%}
    [0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?Z?
{%- endmacro %}
