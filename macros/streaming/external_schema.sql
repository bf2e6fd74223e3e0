{#- Redshift: the external schema that maps the MSK cluster's topics to streams, IAM authentication.
    Run once per database:  dbt run-operation create_wearables_external_schema --target redshift
    The cluster is named by P360_MSK_CLUSTER_ARN (CLUSTER_ARN) or by its IAM bootstrap brokers
    P360_MSK_BOOTSTRAP_URI (URI, e.g. 'b-1.x.kafka.eu-west-1.amazonaws.com:9098'); the role by
    P360_MSK_IAM_ROLE_ARN ('default' = the cluster's default IAM role).
    Locally the landing file is attached by the profile instead, so nothing happens. -#}

{% macro wearables_external_schema_sql() %}
    {{ return(adapter.dispatch('wearables_external_schema_sql')()) }}
{% endmacro %}

{% macro redshift__wearables_external_schema_sql() -%}
    {%- set schema = var('wearables_msk_schema', env_var('P360_WEARABLES_MSK_SCHEMA', 'wearables_msk')) -%}
    {%- set role = var('wearables_msk_iam_role_arn', env_var('P360_MSK_IAM_ROLE_ARN', 'default')) -%}
    {%- set cluster_arn = var('wearables_msk_cluster_arn', env_var('P360_MSK_CLUSTER_ARN', '')) -%}
    {%- set bootstrap_uri = var('wearables_msk_bootstrap_uri', env_var('P360_MSK_BOOTSTRAP_URI', '')) -%}
create external schema if not exists {{ adapter.quote(schema) }}
from msk
iam_role {% if role == 'default' %}default{% else %}'{{ role }}'{% endif %}
authentication iam
{% if cluster_arn -%}
cluster_arn '{{ cluster_arn }}'
{%- else -%}
uri '{{ bootstrap_uri or "msk-bootstrap-brokers.invalid:9098" }}'
{%- endif %}
{%- endmacro %}

{% macro default__wearables_external_schema_sql() %}
    {{ return('') }}
{% endmacro %}

{% macro create_wearables_external_schema() %}
    {%- set ddl = wearables_external_schema_sql() -%}
    {%- if not ddl | trim -%}
        {{ log("target " ~ target.type ~ ": no external schema needed (the landing file is attached)", info=true) }}
    {%- elif 'msk-bootstrap-brokers.invalid' in ddl -%}
        {{ exceptions.raise_compiler_error("set P360_MSK_CLUSTER_ARN or P360_MSK_BOOTSTRAP_URI to name the MSK cluster") }}
    {%- else -%}
        {%- do run_query(ddl) -%}
        {{ log("external schema for the wearable stream is ready", info=true) }}
    {%- endif -%}
{% endmacro %}
