{#- Redshift: the external schema that maps the MSK cluster's topics to streams (IAM authentication).
    Run once per database: dbt run-operation create_wearables_external_schema --target redshift.
    Locally the landing file is attached by the profile instead, so nothing happens. -#}

{% macro wearables_external_schema_sql() %}
    {{ return(adapter.dispatch('wearables_external_schema_sql')()) }}
{% endmacro %}

{% macro redshift__wearables_external_schema_sql() -%}
    {%- set role = var('wearables_msk_iam_role_arn', env_var('P360_MSK_IAM_ROLE_ARN', 'default')) -%}
    {%- set cluster_arn = var('wearables_msk_cluster_arn', env_var('P360_MSK_CLUSTER_ARN', '')) -%}
    {%- if not cluster_arn and execute and flags.WHICH in ('run-operation',) -%}
        {{ exceptions.raise_compiler_error("set P360_MSK_CLUSTER_ARN (var wearables_msk_cluster_arn) to the MSK cluster's ARN") }}
    {%- endif -%}
create external schema if not exists {{ adapter.quote(var('wearables_msk_schema', env_var('P360_WEARABLES_MSK_SCHEMA', 'wearables_msk'))) }}
from msk
iam_role {% if role == 'default' %}default{% else %}'{{ role }}'{% endif %}
authentication iam
cluster_arn '{{ cluster_arn or "arn:aws:kafka:region:account:cluster/name/uuid" }}'
{%- endmacro %}

{% macro default__wearables_external_schema_sql() %}
    {{ return('') }}
{% endmacro %}

{% macro create_wearables_external_schema() %}
    {%- set ddl = wearables_external_schema_sql() -%}
    {%- if ddl | trim -%}
        {%- do run_query(ddl) -%}
        {{ log("external schema " ~ var('wearables_msk_schema', env_var('P360_WEARABLES_MSK_SCHEMA', 'wearables_msk')) ~ " ready", info=true) }}
    {%- else -%}
        {{ log("target " ~ target.type ~ ": no external schema needed (the landing file is attached)", info=true) }}
    {%- endif -%}
{% endmacro %}
