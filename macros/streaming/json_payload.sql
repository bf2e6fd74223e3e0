{#- Typed access to the parsed JSON payload: Redshift SUPER navigation vs DuckDB JSON functions.
    A value of the wrong JSON type reads as null, so validation can name it instead of failing.
    Keys are lowercase snake_case: SUPER attribute names are matched case-insensitively anyway.
    payload_text / payload_number read the payload_fields() of the payload: on DuckDB every JSON function
    call parses the document again, so the fields are split out in one parse (a struct of JSON values);
    Redshift navigates the SUPER value itself. -#}

{% macro payload_fields(payload, keys) %}
    {{ return(adapter.dispatch('payload_fields')(payload, keys)) }}
{% endmacro %}

{% macro default__payload_fields(payload, keys) -%}
    {{ payload }}
{%- endmacro %}

{% macro duckdb__payload_fields(payload, keys) -%}
    json_transform({{ payload }}, '{ {%- for key in keys -%} "{{ key }}": "JSON"{{ ", " if not loop.last }} {%- endfor -%} }')
{%- endmacro %}

{% macro payload_is_object(payload) %}
    {{ return(adapter.dispatch('payload_is_object')(payload)) }}
{% endmacro %}

{% macro redshift__payload_is_object(payload) -%}
    coalesce(is_object({{ payload }}), false)
{%- endmacro %}

{% macro duckdb__payload_is_object(payload) -%}
    coalesce(json_type({{ payload }}) = 'OBJECT', false)
{%- endmacro %}


{% macro payload_text(payload, key) %}
    {{ return(adapter.dispatch('payload_text')(payload, key)) }}
{% endmacro %}

{% macro redshift__payload_text(payload, key) -%}
    case when json_typeof({{ payload }}.{{ key }}) = 'string' then cast({{ payload }}.{{ key }} as varchar) end
{%- endmacro %}

{% macro duckdb__payload_text(payload, key) -%}
    case
        when json_type({{ payload }}.{{ key }}) = 'VARCHAR'
            then json_extract_string({{ payload }}.{{ key }}, '$')
    end
{%- endmacro %}


{% macro payload_number(payload, key) %}
    {{ return(adapter.dispatch('payload_number')(payload, key)) }}
{% endmacro %}

{% macro redshift__payload_number(payload, key) -%}
    case when json_typeof({{ payload }}.{{ key }}) = 'number' then cast({{ payload }}.{{ key }} as float8) end
{%- endmacro %}

{% macro duckdb__payload_number(payload, key) -%}
    case
        when json_type({{ payload }}.{{ key }}) in ('BIGINT', 'UBIGINT', 'DOUBLE')
            then cast(json_extract_string({{ payload }}.{{ key }}, '$') as double)
    end
{%- endmacro %}


{#- ISO 8601 UTC text ('2026-01-05T07:31:00.000Z') to a timestamp, null when it is not one. -#}
{% macro iso8601_utc_to_timestamp(text) %}
    {{ return(adapter.dispatch('iso8601_utc_to_timestamp')(text)) }}
{% endmacro %}

{#- The fraction's dot is `[.]`, not `\.`: Redshift processes backslash escapes in string literals, so `'\.'`
    reaches the regex engine as `.` (any character) there, while DuckDB keeps the backslash. A bracket
    expression means a literal dot on both (https://docs.aws.amazon.com/redshift/latest/dg/pattern-matching-conditions-posix.html). -#}
{% macro iso8601_utc_pattern() -%}
    ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?Z$
{%- endmacro %}

{#- Redshift has no try_cast: a well-shaped but impossible date (Feb 30) would fail the cast, so it is
    first read leniently with to_timestamp (which rolls it over to Mar 2) and kept only if the date
    survives the round trip. Nested cases keep the order of evaluation. -#}
{% macro redshift__iso8601_utc_to_timestamp(text) -%}
    case
        when {{ text }} ~ '{{ iso8601_utc_pattern() }}'
            then case
                when
                    to_char(to_timestamp(left({{ text }}, 10), 'YYYY-MM-DD'), 'YYYY-MM-DD')
                    = left({{ text }}, 10)
                    then cast(replace(replace({{ text }}, 'T', ' '), 'Z', '') as timestamp)
            end
    end
{%- endmacro %}

{% macro duckdb__iso8601_utc_to_timestamp(text) -%}
    case
        when regexp_full_match({{ text }}, '{{ iso8601_utc_pattern() }}')
            then try_cast(replace(replace({{ text }}, 'T', ' '), 'Z', '') as timestamp)
    end
{%- endmacro %}


{#- Text of 1 to 9 digits (a step count sent as a string, as the reference solution's producer does). -#}
{% macro text_is_unsigned_integer(text) %}
    {{ return(adapter.dispatch('text_is_unsigned_integer')(text)) }}
{% endmacro %}

{% macro redshift__text_is_unsigned_integer(text) -%}
    coalesce({{ text }} ~ '^[0-9]{1,9}$', false)
{%- endmacro %}

{% macro duckdb__text_is_unsigned_integer(text) -%}
    coalesce(regexp_full_match({{ text }}, '[0-9]{1,9}'), false)
{%- endmacro %}
