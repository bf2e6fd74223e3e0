{#-
    PHI protection generated from the yml: a column tagged `meta: {phi: true, phi_kind: <kind>}` is
    masked for the analyst role.
      * Redshift: dynamic data masking, one policy per (kind, type), attached to the analyst role on
        every tagged column after each build (a rebuilt table loses its attachments), plus grants.
      * DuckDB (no roles): an analyst-facing schema `<schema>_analyst` with a masked view per model.
    Roles come from vars `phi_analyst_role` and `phi_clinician_role` (the latter sees clear values).
-#}

{#- Masking by kind: names, phones, addresses redacted; identifiers pseudonymised; dates kept to the year. -#}
{% macro phi_mask_expression(kind, column_expr, data_type) %}
    {{- return(adapter.dispatch('phi_mask_expression', 'patient360')(kind, column_expr, data_type)) -}}
{% endmacro %}

{% macro default__phi_mask_expression(kind, column_expr, data_type) -%}
    {%- if kind == 'identifier' -%}
        {{ phi_pseudonym(column_expr) }}
    {%- elif kind in ('birth_date', 'date') and data_type in ('date',) -%}
        cast(date_trunc('year', {{ column_expr }}) as date)
    {%- elif kind in ('birth_date', 'date') -%}
        cast(date_trunc('year', {{ column_expr }}) as {{ data_type }})
    {%- else -%}
        {#- an absent value stays absent: it holds no PHI, and REDACTED would claim there is a value -#}
        case when {{ column_expr }} is null then null else cast('REDACTED' as {{ data_type }}) end
    {%- endif -%}
{%- endmacro %}

{% macro phi_pseudonym(column_expr) %}
    {{- return(adapter.dispatch('phi_pseudonym', 'patient360')(column_expr)) -}}
{% endmacro %}

{% macro redshift__phi_pseudonym(column_expr) -%}
    sha2({{ column_expr }}, 256)
{%- endmacro %}

{% macro duckdb__phi_pseudonym(column_expr) -%}
    sha256({{ column_expr }})
{%- endmacro %}


{#- The PHI columns of a model node: [{name, kind, data_type}], from yml meta. -#}
{% macro phi_columns(node) %}
    {%- set found = [] -%}
    {%- for column in node.columns.values() -%}
        {%- if column.meta.get('phi') -%}
            {%- do found.append({
                'name': column.name,
                'kind': column.meta.get('phi_kind', 'redact'),
                'data_type': (column.data_type or 'varchar') | lower,
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#- Redshift DDL for one relation: policies (idempotent), attachments to the analyst role, grants. A policy
    lives in the connected database and attaches only to relations there, so the relation is named without
    its database (https://docs.aws.amazon.com/redshift/latest/dg/r_ATTACH_MASKING_POLICY.html). -#}
{% macro redshift_phi_masking_statements(relation, node) %}
    {%- set analyst_role = var('phi_analyst_role', 'patient360_analyst') -%}
    {%- set statements = [] -%}
    {%- for column in phi_columns(node) -%}
        {%- set sql_type = 'varchar(256)' if column.data_type in ('varchar', 'text', 'string') else column.data_type -%}
        {%- set policy = 'p360_mask_' ~ column.kind ~ '_' ~ (sql_type | replace('(', '_') | replace(')', '')) -%}
        {%- do statements.append(
            'create masking policy ' ~ policy ~ ' if not exists with (phi_value ' ~ sql_type ~ ') using ('
            ~ phi_mask_expression(column.kind, 'phi_value', sql_type) ~ ')'
        ) -%}
        {%- do statements.append(
            'attach masking policy ' ~ policy ~ ' on ' ~ relation.include(database=false) ~ ' (' ~ column.name ~ ') to role '
            ~ analyst_role ~ ' priority 10'
        ) -%}
    {%- endfor -%}
    {%- do statements.append('grant usage on schema ' ~ relation.schema ~ ' to role ' ~ analyst_role) -%}
    {%- do statements.append('grant select on ' ~ relation ~ ' to role ' ~ analyst_role) -%}
    {%- set clinician_role = var('phi_clinician_role', 'patient360_clinician') -%}
    {%- do statements.append('grant usage on schema ' ~ relation.schema ~ ' to role ' ~ clinician_role) -%}
    {%- do statements.append('grant select on ' ~ relation ~ ' to role ' ~ clinician_role) -%}
    {{ return(statements) }}
{% endmacro %}


{#- DuckDB: the analyst-facing masked view of one relation. -#}
{% macro duckdb_phi_masked_view_sql(relation, node, column_names) %}
    {%- set masked = {} -%}
    {%- for column in phi_columns(node) -%}
        {%- do masked.update({column.name: column}) -%}
    {%- endfor -%}
    {%- set analyst_schema = relation.schema ~ '_analyst' -%}
    create or replace view {{ relation.database }}.{{ analyst_schema }}.{{ relation.identifier }} as
    select
    {%- for name in column_names %}
        {% if name in masked -%}
            {{ phi_mask_expression(masked[name].kind, name, masked[name].data_type) }} as {{ name }}
        {%- else -%}
            {{ name }}
        {%- endif %}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ relation }}
{% endmacro %}


{#- post-hook on the marts: apply the masking for the current model. -#}
{% macro apply_phi_governance() %}
    {{- return(adapter.dispatch('apply_phi_governance', 'patient360')()) -}}
{% endmacro %}

{% macro redshift__apply_phi_governance() %}
    {%- if execute -%}
        {%- for statement in redshift_phi_masking_statements(this, model) -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{% endmacro %}

{% macro duckdb__apply_phi_governance() %}
    {%- if execute -%}
        {%- set column_names = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- do run_query('create schema if not exists ' ~ this.database ~ '.' ~ this.schema ~ '_analyst') -%}
        {%- do run_query(duckdb_phi_masked_view_sql(this, model, column_names)) -%}
    {%- endif -%}
    select 1
{% endmacro %}


{#- Every statement the project's PHI governance issues on Redshift (rendered by an analysis so the
    offline check parses it with the redshift grammar). -#}
{% macro phi_governance_ddl_for_project() %}
    {%- set rendered = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') -%}
            {%- if phi_columns(node) and node.fqn[1] == 'marts' -%}
                {%- set relation = api.Relation.create(
                    database=node.database, schema=node.schema, identifier=node.alias
                ) -%}
                {%- for statement in redshift_phi_masking_statements(relation, node) -%}
                    {%- do rendered.append(statement ~ ';') -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(rendered | join('\n')) }}
{% endmacro %}
