{#- Incremental stream models read only the refreshes after the last one they processed: a scalar bound
    on refresh_time the scan prunes on (the landing table and the streaming views are appended in
    refresh order), so a build reads the new records, not the whole stream. Each refresh is one
    transaction with one refresh_time, so "after the latest processed" misses and repeats nothing; the
    models still apply their exact partition/offset watermarks on top. `processed_where` narrows the rows
    of {{ this }} the bound is taken from (e.g. one source view of the quarantine). -#}
{% macro stream_refreshed_after_processed(refresh_time_column='refresh_time', processed_where=none) -%}
    {{ refresh_time_column }} > (
        select coalesce(max(processed.refresh_time), cast('1900-01-01' as timestamp))
        from {{ this }} as processed
        {%- if processed_where %}
        where {{ processed_where }}
        {%- endif %}
    )
{%- endmacro %}
