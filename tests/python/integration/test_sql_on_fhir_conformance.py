"""The official SQL-on-FHIR v2 suite, run once for the module through the HealthLake import on DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from patient360.sql_on_fhir import conformance
from patient360.sql_on_fhir.errors import ViewDefinitionError

# 132 of 134 pass today; the 2 known failures are listed in README ("SQL on FHIR v2").
MINIMUM_PASSED = 126


@pytest.fixture(scope="module")
def suite() -> Path:
    directory = conformance.suite_dir()
    if not (directory / "tests").is_dir():
        pytest.skip(f"SQL-on-FHIR suite not found at {directory}: set P360_SOF_SUITE_DIR")
    return directory


@pytest.fixture(scope="module")
def results(suite: Path) -> list[conformance.CaseResult]:
    return conformance.run_suite(suite)


def test_at_least_126_of_134_cases_pass_on_duckdb(results: list[conformance.CaseResult]) -> None:
    assert len(results) == 134
    failed = [f"{r.file} :: {r.name}: {r.error}" for r in results if not r.passed]
    assert len(results) - len(failed) >= MINIMUM_PASSED, "\n".join(failed)


def test_every_expect_error_case_raises_a_clear_view_definition_error(results: list[conformance.CaseResult]) -> None:
    expecting = [r for r in results if r.expect_error]
    assert len(expecting) == 11
    for result in expecting:
        assert isinstance(result.raised, ViewDefinitionError), f"{result.file} :: {result.name} compiled"
        assert result.raised.view and result.raised.path and result.raised.reason
        assert result.raised.view in str(result.raised) and result.raised.path in str(result.raised)


def test_every_valid_view_has_redshift_sql_that_parses_and_passes_the_rules(
    results: list[conformance.CaseResult],
) -> None:
    valid = [r for r in results if not r.expect_error]
    assert len(valid) == 123
    problems = [f"{r.file} :: {r.name}: {r.redshift_problems}" for r in valid if r.redshift_problems]
    assert not problems, "\n".join(problems)


def test_report_has_the_suite_report_shape(results: list[conformance.CaseResult], suite: Path) -> None:
    report = conformance.test_report(results)
    files = {p.name for p in (suite / "tests").glob("*.json")}
    assert set(report) == files
    for entry in report.values():
        for test in entry["tests"]:
            assert isinstance(test["name"], str) and isinstance(test["result"]["passed"], bool)
    schema = json.loads((suite / "test-report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(report)), schema)
