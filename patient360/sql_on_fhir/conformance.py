"""The SQL-on-FHIR v2 conformance runner: ``python -m patient360.sql_on_fhir.conformance [SUITE_DIR]``.

Each test file's resources go once through the project's HealthLake import into a scratch catalog;
each view is compiled and run on DuckDB, its rows compared as the reference runner does (order
ignored, values equal with their JSON types); each view's Redshift SQL is generated and parsed with
sqlfluff's redshift dialect. Prints ``N passed, M failed`` and writes ``test_report.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from patient360.settings import load_settings
from patient360.sql_on_fhir import _healthlake, schema
from patient360.sql_on_fhir.compile import compile_view
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.redshift_rules import redshift_problems
from patient360.sql_on_fhir.viewdef import View, output_columns, parse_view

DATABASE = "sof_conformance"


def suite_dir() -> Path:
    """Where the suite is: P360_SOF_SUITE_DIR (patient360.settings), default ``../shared/sql-on-fhir-v2``."""
    return _healthlake.sof_suite_dir()


@dataclass
class CaseResult:
    file: str
    name: str
    passed: bool
    error: str | None = None
    compile_ms: float = 0.0
    redshift_problems: list[str] = field(default_factory=list)
    expect_error: bool = False
    raised: ViewDefinitionError | None = None


def canonical(value: Any) -> Any:
    """A value as the JSON the reference runner compares: numbers as floats, lists and dicts recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return round(float(value), 9)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    return str(value)


def row_keys(rows: list[dict[str, Any]], names: list[str]) -> list[str]:
    return sorted(json.dumps({n: canonical(r.get(n)) for n in names}, sort_keys=True) for r in rows)


def load_resources(resources: list[dict[str, Any]], data_dir: Path) -> duckdb.DuckDBPyConnection:
    """The file's resources through the HealthLake import (one NDJSON file per type), then the catalog."""
    export = data_dir / "export"
    export.mkdir()
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for resource_type, lines in by_type.items():
        (export / f"{resource_type}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _healthlake.import_bulk_export(export, data_dir, DATABASE)
    for rejection in report.rejected:  # HealthLake refuses them too (e.g. no id): the views never see them
        print(f"note: the import rejected {rejection.file} line {rejection.line}: {rejection.reason}")
    return duckdb.connect(str(_healthlake.catalog_path(data_dir)), read_only=True)


def run_case(con: duckdb.DuckDBPyConnection, file: str, test: dict[str, Any]) -> CaseResult:
    result = CaseResult(file, test["title"], passed=False, expect_error=bool(test.get("expectError")))
    started = time.perf_counter()
    try:
        view = parse_view(test["view"], default_name=test["title"])
        table = _healthlake.table_name(DATABASE, view.resource)
        sql = compile_view(view, table, schema.table_physical(con, table))
    except ViewDefinitionError as exc:
        result.compile_ms = (time.perf_counter() - started) * 1000
        result.raised, result.passed = exc, result.expect_error
        result.error = None if result.passed else str(exc)
        return result
    result.compile_ms = (time.perf_counter() - started) * 1000
    result.redshift_problems = redshift_check(view)
    if result.expect_error:
        result.error = "expected a compile error, the view compiled"
        return result
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        got = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as exc:
        result.error = f"DuckDB: {str(exc).splitlines()[0]}"
        return result
    columns = [c.name for c in output_columns(view.root)]
    result.passed = row_keys(got, columns) == row_keys(test["expect"], columns)
    if not result.passed:
        result.error = f"rows differ: got {canonical(got)}, expected {test['expect']}"
    return result


def redshift_check(view: View) -> list[str]:
    """The view's Redshift SQL, generated and checked; what Redshift cannot say is a problem, not a crash."""
    try:
        sql = compile_view(view, f"awsdatacatalog.{DATABASE}.{view.resource.lower()}", dialect="redshift")
    except ViewDefinitionError as exc:
        return [f"not generated: {exc}"]
    return redshift_problems(sql)


def run_file(path: Path) -> list[CaseResult]:
    suite = json.loads(path.read_text(encoding="utf-8"))
    with (
        tempfile.TemporaryDirectory(prefix="sof-") as scratch,
        load_resources(suite["resources"], Path(scratch)) as con,
    ):
        return [run_case(con, path.name, test) for test in suite["tests"]]


def run_suite(directory: Path) -> list[CaseResult]:
    files = sorted((directory / "tests").glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no SQL-on-FHIR test files in {directory / 'tests'} (set P360_SOF_SUITE_DIR)")
    return [result for path in files for result in run_file(path)]


def test_report(results: list[CaseResult]) -> dict[str, Any]:
    """The suite's ``test-report.schema.json`` shape: one entry per file, one result per test."""
    report: dict[str, Any] = {}
    for r in results:
        outcome: dict[str, Any] = {"passed": r.passed}
        if r.error:
            outcome["error"] = r.error[:2000]
        outcome["details"] = {"compile_ms": round(r.compile_ms, 2), "redshift_problems": r.redshift_problems}
        report.setdefault(r.file, {"tests": []})["tests"].append({"name": r.name, "result": outcome})
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", type=Path, default=None, help="suite folder (default: P360_SOF_SUITE_DIR)")
    parser.add_argument("--report", type=Path, default=load_settings().data_dir / "test_report.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run_suite(args.suite or suite_dir())
    total = time.perf_counter() - started
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        redshift = "redshift ok" if not r.redshift_problems else f"redshift: {'; '.join(r.redshift_problems)[:200]}"
        print(f"{mark} {r.file} :: {r.name}  compile {r.compile_ms:.1f} ms  {redshift}")
        if not r.passed:
            print(f"     why: {(r.error or '')[:300]}")
    passed = sum(r.passed for r in results)
    valid = [r for r in results if not r.expect_error]
    clean = sum(not r.redshift_problems for r in valid)
    print(f"{passed} passed, {len(results) - passed} failed; Redshift SQL generated, parsed and rule-clean for "
          f"{clean}/{len(valid)} valid views; total {total:.2f} s")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(test_report(results), indent=2) + "\n", encoding="utf-8")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
