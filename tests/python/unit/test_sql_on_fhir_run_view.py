"""run_view: a ViewDefinition against a HealthLake catalog, written as CSV or Parquet; the dbt macros are current."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from patient360.sql_on_fhir import dbt_models
from patient360.sql_on_fhir._healthlake import catalog_path, import_bulk_export
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.run import run_view

DATABASE = "sof_run_test"
PATIENTS = [
    {"resourceType": "Patient", "id": "p1", "gender": "female",
     "name": [{"use": "official", "family": "Doe", "given": ["Jane"]}, {"family": "Roe"}]},
    {"resourceType": "Patient", "id": "p2", "gender": "male"},
]
VIEW = {
    "name": "patient_names", "resource": "Patient",
    "select": [{"column": [{"name": "id", "path": "getResourceKey()", "type": "id"}]},
               {"forEachOrNull": "name", "column": [{"name": "family", "path": "family", "type": "string"}]}],
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("healthlake")
    export = data_dir / "export"
    export.mkdir()
    (export / "Patient.ndjson").write_text("\n".join(json.dumps(p) for p in PATIENTS) + "\n", encoding="utf-8")
    import_bulk_export(export, data_dir, DATABASE)
    return catalog_path(data_dir)


@pytest.fixture
def view_file(tmp_path: Path) -> Path:
    path = tmp_path / "patient_names.json"
    path.write_text(json.dumps(VIEW), encoding="utf-8")
    return path


def test_run_view_writes_the_rows_as_csv(catalog: Path, view_file: Path, tmp_path: Path) -> None:
    result = run_view(view_file, catalog, tmp_path / "out.csv", "csv", DATABASE)
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        rows = sorted((r["id"], r["family"]) for r in csv.DictReader(handle))
    assert rows == [("p1", "Doe"), ("p1", "Roe"), ("p2", "")]
    assert result.rows == 3


def test_run_view_writes_parquet(catalog: Path, view_file: Path, tmp_path: Path) -> None:
    run_view(view_file, catalog, tmp_path / "out.parquet", "parquet", DATABASE)
    rows = duckdb.connect().execute(f"select id, family from '{tmp_path / 'out.parquet'}' order by all").fetchall()
    assert rows == [("p1", "Doe"), ("p1", "Roe"), ("p2", None)]


def test_run_view_names_a_bad_view_file(catalog: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ViewDefinitionError, match="broken"):
        run_view(bad, catalog, tmp_path / "out.csv", "csv", DATABASE)


def test_the_generated_dbt_macros_are_current() -> None:
    assert dbt_models.main(["--check"]) == 0, "run: python -m patient360.sql_on_fhir.dbt_models"
