"""Each Redshift rule catches the bad form it encodes (and passes the fixed form); no dbt, no cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from patient360.redshift_check.parsing import grammar_gap
from patient360.redshift_check.recorder import record
from patient360.redshift_check.rules import RULES, StatementInput, check_sql, check_statements


def rules_hit(sql: str) -> set[str]:
    return {violation.rule for violation in check_sql(sql, node="model.test")}


# (rule, bad statement, the same statement fixed)
CASES = [
    (
        "late_binding_view",
        "create view dev.staging.stg_patients as (select p.id from awsdatacatalog.hl_view.patient as p)",
        "create view dev.staging.stg_patients as (select p.id from awsdatacatalog.hl_view.patient as p)"
        " with no schema binding",
    ),
    (
        "late_binding_view",
        "create view dev.staging.stg_appointments as (select a.id from zetl_example.app_db.appointment as a)",
        "create view dev.staging.stg_appointments as (select a.id from zetl_example.app_db.appointment as a)"
        " with no schema binding",
    ),
    (
        "late_binding_view_unqualified",
        "create view dev.staging.stg_state as (with state as (select table_name from svv_integration_table_state)"
        " select table_name from state) with no schema binding",
        "create view dev.staging.stg_state as (with state as (select table_name from"
        " pg_catalog.svv_integration_table_state) select table_name from state) with no schema binding",
    ),
    (
        "single_backslash_in_literal",
        r"select case when t ~ '^[0-9]{2}(\.[0-9]{1,6})?Z$' then 1 end as ok from events",
        r"select case when t ~ '^[0-9]{2}([.][0-9]{1,6})?Z$' then 1 end as ok from events",
    ),
    (
        "varchar_without_length",
        "create table dev.marts.patient_360 (patient_id varchar(256), allergy_descriptions varchar)",
        "create table dev.marts.patient_360 (patient_id varchar(256), allergy_descriptions varchar(65535))",
    ),
    (
        "stream_read_outside_streaming_view",
        "select count(*) as records from dev.wearables_msk.wearables_stream",
        "create materialized view dev.staging.base_stream auto refresh yes as"
        " select kafka_partition, kafka_offset from dev.wearables_msk.wearables_stream",
    ),
    (
        "super_value_not_cast",
        "select p.id, regexp_substr(p.subject.reference, 'Patient/(.+)', 1, 1, 'e') as patient_id"
        " from awsdatacatalog.hl_view.condition as p",
        "select p.id, regexp_substr(cast(p.subject.reference as varchar(65535)), 'Patient/(.+)', 1, 1, 'e')"
        " as patient_id from awsdatacatalog.hl_view.condition as p",
    ),
    (
        "super_value_not_cast",
        "select n.family as family_name from awsdatacatalog.hl_view.patient as p left join p.name as n on true",
        "select cast(n.family as varchar(1024)) as family_name"
        " from awsdatacatalog.hl_view.patient as p left join p.name as n on true",
    ),
    (
        "super_value_not_cast",
        "select p.code.coding[0].code as code from awsdatacatalog.hl_view.condition as p",
        "select cast(p.code.coding[0].code as varchar(256)) as code from awsdatacatalog.hl_view.condition as p",
    ),
    (
        "outer_join_with_super",
        "select p.id from awsdatacatalog.hl_view.patient as p full outer join dev.marts.dim as d on p.id = d.id",
        "select p.id from awsdatacatalog.hl_view.patient as p left join dev.marts.dim as d on p.id = d.id",
    ),
    (
        "masking_policy_other_database",
        "attach masking policy p360_mask_name on dev.marts.patient_360 (given_name) to role analyst priority 10",
        "attach masking policy p360_mask_name on marts.patient_360 (given_name) to role analyst priority 10",
    ),
]


@pytest.mark.parametrize(("rule", "bad", "fixed"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_catches_the_bad_form_and_passes_the_fix(rule: str, bad: str, fixed: str) -> None:
    assert rule in rules_hit(bad), f"{rule} missed: {bad}"
    assert rules_hit(fixed) == set(), f"false positive on the fixed form: {check_sql(fixed, node='x')}"


def test_two_streaming_views_on_one_topic_are_caught() -> None:
    def streaming_view(name: str) -> StatementInput:
        return StatementInput(f"create materialized view dev.staging.{name} auto refresh yes as"
                              " select kafka_offset from dev.wearables_msk.wearables_stream",
                              node=f"model.{name}", phase="full")
    violations = check_statements([streaming_view("base_stream"), streaming_view("base_stream_unparsable")])
    assert {(v.rule, v.node) for v in violations} == {
        ("one_streaming_view_per_stream", "model.base_stream"),
        ("one_streaming_view_per_stream", "model.base_stream_unparsable"),
    }
    assert check_statements([streaming_view("base_stream")]) == []


def test_every_rule_has_a_case_and_cites_an_aws_page() -> None:
    assert {case[0] for case in CASES} == set(RULES.rules)
    for name, (_, url) in RULES.rules.items():
        assert url.startswith("https://docs.aws.amazon.com/redshift/"), name


def test_lineage_a_bound_view_over_a_late_binding_staging_view_is_caught() -> None:
    staging = StatementInput(
        "create view dev.staging.stg_patients__dbt_tmp as (select p.id from awsdatacatalog.hl.patient as p)"
        " with no schema binding", node="model.stg_patients")
    intermediate = StatementInput(
        "create view dev.intermediate.int_patients as (select s.id from dev.staging.stg_patients as s)",
        node="model.int_patients")
    violations = check_statements([staging, intermediate])
    assert [(v.rule, v.node) for v in violations] == [("late_binding_view", "model.int_patients")]
    # The same view alone reads nothing outside: no lineage, no violation.
    assert check_sql(intermediate.sql, node="x") == []


def test_stream_schema_comes_from_the_recorded_external_schema() -> None:
    schema = StatementInput("create external schema if not exists devices from msk iam_role default"
                            " authentication iam uri 'b-1.x.kafka.eu-west-1.amazonaws.com:9098'")
    reader = StatementInput("select kafka_offset from dev.devices.topic_a", node="test.reads_stream")
    assert [v.rule for v in check_statements([schema, reader])] == ["stream_read_outside_streaming_view"]


def test_sql_that_redshift_rejects_is_a_named_violation() -> None:
    violations = check_sql("select id from patients using sample 10 percent", node="model.leaky_duckdb")
    assert [(v.rule, v.node) for v in violations] == [("redshift_grammar", "model.leaky_duckdb")]
    assert "using sample" in violations[0].message.lower() or "unparsable" in violations[0].message


def test_grammar_gaps_match_only_dbt_redshift_catalog_queries() -> None:
    assert grammar_gap("select 1 from pg_get_late_binding_view_cols() cols(view_schema name, x int)") is not None
    assert grammar_gap("select id from patients using sample 10 percent") is None


def test_recording_a_directory_that_is_not_a_dbt_project_names_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"{tmp_path} is not a dbt project"):
        record(tmp_path)


def test_a_null_test_on_a_super_path_needs_no_cast_but_its_value_does() -> None:
    checked = "from awsdatacatalog.db.patient as r, r.contact as h0 where h0.telecom[0] is not null"
    assert check_sql(f"select cast(h0.telecom[0].value as varchar(256)) as tel {checked}") == []
    [violation] = check_sql(f"select h0.telecom[0].value as tel {checked}")
    assert violation.rule == "super_value_not_cast"


def test_super_shape_functions_need_no_cast_and_at_index_aliases_are_super() -> None:
    unnested = "from awsdatacatalog.db.allergy as r, r.reaction as i0 at i0_index"
    assert check_sql(f"select cast(r.id as varchar(64)) as id {unnested} "
                     "where coalesce(get_array_length(i0.manifestation), 0) = 0") == []
    [violation] = check_sql(f"select upper(i0.severity) as severity {unnested}")
    assert violation.rule == "super_value_not_cast" and "i0.severity" in violation.message


def test_a_null_test_inside_a_longer_condition_needs_no_cast_but_a_bare_value_there_does() -> None:
    fan = "from r.name as f0 at f0_index where cast(f0.use as varchar(16)) = 'official' and f0.family {}"
    outer = "select (select count(*) {}) as n from awsdatacatalog.db.patient as r"
    assert check_sql(outer.format(fan.format("is not null"))) == []
    compared = outer.format(fan.format("= 'F1'"))
    [violation] = check_sql(compared)
    assert violation.rule == "super_value_not_cast" and "f0.family" in violation.message
