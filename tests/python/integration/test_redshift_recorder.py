"""The real `dbt build --target redshift` (full and incremental), `dbt source freshness` and the documented
run-operations, recorded offline through the stand-in connection, then parsed and checked by the Redshift rules.

One recorder run for the module, on a copy of the project with two bad models added (DuckDB-only SQL and
uppercase keywords), so the same run proves the project passes every rule and that bad models are caught.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from patient360.redshift_check.parsing import grammar_gap, parse, without_query_comment
from patient360.redshift_check.recorder import (
    PROJECT_DIR,
    Statement,
    compiled_analyses,
    read_statements,
    record,
    write_statements,
)
from patient360.redshift_check.rules import Violation, check_statements
from patient360.redshift_check.style import lint_compiled_models

pytestmark = pytest.mark.slow
LEAKY = "model.patient360.stg_healthlake__leaky_sample"
SHOUTING = "stg_healthlake__shouting"


@dataclass(frozen=True)
class Run:
    statements: list[Statement]
    violations: list[Violation]
    style: list[str]


def copy_project(destination: Path) -> Path:
    for item in ["dbt_project.yml", ".sqlfluff"]:
        shutil.copy(PROJECT_DIR / item, destination / item)
    for folder in ["models", "macros", "profiles", "seeds", "snapshots", "analyses", "tests/dbt"]:
        shutil.copytree(PROJECT_DIR / folder, destination / folder)
    staging = destination / "models" / "staging" / "healthlake"
    # DuckDB's USING SAMPLE is not Redshift SQL: a model leaking it past the dispatch seam must fail.
    (staging / "stg_healthlake__leaky_sample.sql").write_text(
        "select id from {{ source('healthlake', 'patient') }} using sample 10 percent\n")
    # Parses fine, but breaks the project's lowercase-keyword style.
    (staging / f"{SHOUTING}.sql").write_text("SELECT id AS patient_id FROM {{ source('healthlake', 'patient') }}\n")
    return destination


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    project = copy_project(tmp_path_factory.mktemp("redshift_project"))
    statements = record(project, project / "target" / "redshift_check")
    written = write_statements(statements, project / "target" / "redshift_statements.jsonl")
    assert read_statements(written) == statements
    style = lint_compiled_models(project, project / "target" / "redshift_check" / "compiled")
    analyses = compiled_analyses(project / "target" / "redshift_check")
    assert {s.node for s in analyses} >= {"analysis.phi_masking_policies", "analysis.patient_360_overview"}
    return Run(statements, check_statements([*statements, *analyses]), style)


def kinds(run: Run, phase: str) -> Counter[str]:
    return Counter(s.kind for s in run.statements if s.phase == phase)


def node_sql(run: Run, phase: str, node: str, kind: str) -> list[str]:
    node_id = f"model.patient360.{node}"
    return [s.sql for s in run.statements if s.phase == phase and s.node == node_id and s.kind == kind]


def test_both_builds_freshness_and_run_operation_are_recorded(run: Run) -> None:
    full, incremental = kinds(run, "full"), kinds(run, "incremental")
    for kind in ("view", "table", "materialized_view", "test", "grant", "masking_policy", "insert"):
        assert full[kind] > 0, f"no {kind} statement in the full build: {full}"
    assert incremental["delete"] > 0 and incremental["insert"] > full["insert"], incremental
    assert kinds(run, "freshness")["freshness"] >= 6
    assert kinds(run, "operation:create_wearables_external_schema")["external_schema"] == 1


def test_incremental_branch_is_the_one_recorded_the_second_time(run: Run) -> None:
    full_events = " ".join(node_sql(run, "full", "stg_wearables__events", "table"))
    incremental_events = " ".join(node_sql(run, "incremental", "stg_wearables__events", "table"))
    assert "not exists" not in full_events and "not exists" in incremental_events
    assert any("insert into" in sql for sql in node_sql(run, "incremental", "stg_wearables__events", "insert"))


def test_every_project_statement_parses_as_redshift(run: Run) -> None:
    unparsed = [s for s in run.statements if parse(s.sql).error is not None and s.node != LEAKY]
    # Only dbt-redshift's own catalog queries may fall in a known sqlfluff gap; never the project's SQL.
    assert all(grammar_gap(s.sql) is not None and s.kind == "catalog" for s in unparsed), unparsed[:3]
    assert len(unparsed) < 0.02 * len(run.statements)


def test_the_project_passes_every_rule_and_the_bad_models_are_caught(run: Run) -> None:
    assert {(v.rule, v.node) for v in run.violations} == {("redshift_grammar", LEAKY)}, run.violations[:5]
    assert any(SHOUTING in problem and "CP01" in problem for problem in run.style), run.style
    assert all(SHOUTING in problem or "leaky_sample" in problem for problem in run.style), run.style


def test_defects_of_issue_13_stay_fixed_in_the_sql_sent(run: Run) -> None:
    staging_views = [s for s in run.statements if s.kind == "view" and "_staging." in s.sql]
    assert staging_views and all(re.search(r"with no schema binding", s.sql) for s in staging_views)
    patient_360 = " ".join(node_sql(run, "full", "patient_360", "table"))
    assert re.search(r"allergy_descriptions varchar\(65535\)", patient_360), patient_360[:500]
    attaches = [s.sql for s in run.statements if "attach masking policy" in s.sql]
    assert attaches and not any(re.search(r" on \w+\.\w+\.\w+ ", sql) for sql in attaches)
    records = " ".join(node_sql(run, "full", "stg_wearables__records", "table"))
    assert "([.][0-9]{1,6})?Z$" in records
    patients = " ".join(node_sql(run, "full", "stg_healthlake__patients", "view"))
    assert "to_char(to_date(left(" in patients  # TO_DATE is lenient: the date must survive the round trip
    incremental_records = " ".join(node_sql(run, "incremental", "stg_wearables__records", "table"))
    # a full refresh of the MV re-reads records: each shard (MSK partition) has its sequence-number (offset) watermark
    assert "max(sequence_number) as max_sequence_number" in incremental_records
    state_test = [s.sql for s in run.statements
                  if s.node.startswith("test.patient360.assert_front_desk_integration") and s.kind == "test"]
    assert state_test and "pg_catalog.svv_integration_table_state" in state_test[0]
    assert kinds(run, "full")["materialized_view"] == 1  # one streaming view per topic
    stream = "wearables_msk.wearables_stream"
    stream_readers = {s.node for s in run.statements if stream in without_query_comment(s.sql)}
    assert stream_readers <= {"model.patient360.base_wearables__stream",
                              "model.patient360.base_wearables__stream_unparsable"}, stream_readers
