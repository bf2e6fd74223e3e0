{#-
    The raw outreach table the write-back loads (COPY on Redshift, inserts locally), created by every dbt
    run (on-run-start) so that a build before the first import finds it empty rather than missing. Every
    value is text: a bad row is quarantined downstream, never refused by the load. The loader
    (patient360/sync/redshift_sql.py: engagement_table_ddl) creates the same table when it runs first.
-#}
{% macro create_outreach_events_schema() -%}
    create schema if not exists {{ env_var('P360_ENGAGEMENT_SCHEMA', 'engagement_raw') }}
{%- endmacro %}

{#- One statement per hook: the Redshift driver sends one statement at a time. -#}
{% macro create_outreach_events_table() -%}
    create table if not exists {{ env_var('P360_ENGAGEMENT_SCHEMA', 'engagement_raw') }}.outreach_events (
        patient_id varchar(256),
        event_type varchar(256),
        occurred_at varchar(256),
        source_file varchar(1024),
        source_row integer,
        loaded_at timestamp
    )
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
