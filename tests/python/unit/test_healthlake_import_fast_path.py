"""The DuckDB fast path of the bulk import produces exactly what the row-by-row Python path produces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from patient360.local_aws.healthlake import bulk_import, layout
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from simulators.fhir.population import PopulationConfig, stream_bulk_export
from tests.python.support import HEALTHLAKE_DB

# The exact row-by-row path, captured before any test replaces it to prove the fast path was taken.
PYTHON_PATH = bulk_import.write_normalised_table


def resources_by_type(export: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(export.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            found.setdefault(resource["resourceType"], []).append(resource)
    return found


def with_last_updated(resource: dict[str, Any], stamp: str) -> dict[str, Any]:
    return {**resource, "meta": {**resource.get("meta", {}), "lastUpdated": stamp}}


def comparable(value: Any, key: str = "") -> Any:
    """A row as JSON, for comparing: extension strings parsed, nulls and empty lists/objects dropped."""
    if key in layout.EXTENSION_KEYS and isinstance(value, list):
        return [json.loads(item) for item in value]
    if isinstance(value, dict):
        kept = {k: comparable(v, k) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def assert_same_as_python_path(data_dir: Path, resources: dict[str, list[dict[str, Any]]]) -> None:
    """Every table equals (types, values, row order) the table the Python path builds from the same
    resources, and each row's full JSON round-trips to the normalised resource."""
    with duckdb.connect() as con:
        con.execute(f"attach '{data_dir / 'awsdatacatalog.duckdb'}' as catalog (read_only)")
        con.execute("create schema expected")
        for resource_type, items in resources.items():
            table = layout.table_name(resource_type)
            # The import stamps meta.lastUpdated (HealthLake does): the expected resources carry the stored stamp.
            stamps = dict(con.execute(f"select id, meta.lastupdated from catalog.{HEALTHLAKE_DB}.{table}").fetchall())
            assert None not in stamps.values(), resource_type
            rows = [layout.normalize(with_last_updated(r, stamps[r["id"]])) for r in items]
            PYTHON_PATH(con, "expected", resource_type, rows)
            types = "select column_name, data_type from information_schema.columns " \
                    "where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position"
            assert con.execute(types, ["catalog", HEALTHLAKE_DB, table]).fetchall() == \
                con.execute(types, ["memory", "expected", table]).fetchall(), resource_type
            got = con.execute(f"select * from catalog.{HEALTHLAKE_DB}.{table}").fetchall()
            assert got == con.execute(f"select * from expected.{table}").fetchall(), resource_type
            to_json = f"select to_json(t) from catalog.{HEALTHLAKE_DB}.{table} t"
            as_json = [json.loads(j) for (j,) in con.execute(to_json).fetchall()]
            assert [comparable(j) for j in as_json] == [comparable(r) for r in rows], resource_type


@pytest.fixture
def python_path_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data below must take the fast path: fail if the import falls back to the Python path."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the import fell back to the row-by-row Python path")

    monkeypatch.setattr(bulk_import, "write_normalised_table", forbidden)


def test_synthea_fast_path_equals_python_path(tmp_path: Path, synthea_dir: Path, python_path_forbidden: None) -> None:
    import_bulk_export(synthea_dir, tmp_path / "data", HEALTHLAKE_DB)
    assert_same_as_python_path(tmp_path / "data", resources_by_type(synthea_dir))


def test_simulated_population_fast_path_equals_python_path(tmp_path: Path, python_path_forbidden: None) -> None:
    export = tmp_path / "export"
    stream_bulk_export(PopulationConfig(patients=40, seed=11), export)
    import_bulk_export(export, tmp_path / "data", HEALTHLAKE_DB)
    assert_same_as_python_path(tmp_path / "data", resources_by_type(export))


def test_reimport_fast_path_applies_last_write_wins(
    tmp_path: Path, synthea_dir: Path, python_path_forbidden: None
) -> None:
    patients = (synthea_dir / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()
    changed = json.loads(patients[1])
    changed["gender"] = "other" if changed["gender"] != "other" else "unknown"
    update = tmp_path / "update" / "Patient.000.ndjson"
    update.parent.mkdir()
    # The same id twice in one file: the later line wins too.
    update.write_text(patients[1] + "\n" + json.dumps(changed) + "\n", encoding="utf-8")
    import_bulk_export(synthea_dir / "Patient.000.ndjson", tmp_path / "data", HEALTHLAKE_DB)
    import_bulk_export(update, tmp_path / "data", HEALTHLAKE_DB)
    expected = [json.loads(line) for line in patients]
    expected[1] = changed
    assert_same_as_python_path(tmp_path / "data", {"Patient": expected})


def test_conflicting_shapes_fall_back_to_the_exact_python_path(tmp_path: Path, synthea_dir: Path) -> None:
    """A JSON fallback column holds normalised JSON text: only the Python path writes that."""
    patients = [json.loads(line) for line in (synthea_dir / "Patient.000.ndjson").read_text().splitlines()[:3]]
    patients[0]["maritalStatus"] = "M"  # a string where the others (and the base schema) have an object
    patients[1]["photo"] = [{}]  # an empty object: DuckDB's json_structure calls it JSON
    source = tmp_path / "Patient.000.ndjson"
    source.write_text("".join(json.dumps(p) + "\n" for p in patients), encoding="utf-8")
    import_bulk_export(source, tmp_path / "data", HEALTHLAKE_DB)
    assert_same_as_python_path(tmp_path / "data", {"Patient": patients})
    with duckdb.connect(str(tmp_path / "data" / "awsdatacatalog.duckdb"), read_only=True) as con:
        marital = con.execute(f"select maritalstatus from {HEALTHLAKE_DB}.patient").fetchall()
    assert json.loads(marital[0][0]) == "M"
    assert "coding" in json.loads(marital[1][0])  # normalised (lowercase) JSON text


def test_structure_type_agrees_with_infer_type() -> None:
    names: layout.NameTree = {}
    raw = {"resourceType": "X", "valueQuantity": {"value": 1}, "given": ["a", None], "n": [1, 2.5],
           "none": None, "empty": [], "nested": {"gone": None}, "extension": [{"url": "u"}]}
    with duckdb.connect() as con:
        structure = con.execute("select json_structure(?::json)", [json.dumps(raw)]).fetchone()[0]
    assert layout.structure_type(json.loads(structure), names) == layout.infer_type(layout.normalize(raw))
    assert names["valuequantity"][0] == "valueQuantity"
    with pytest.raises(layout.StructureNotExact):
        layout.structure_type({"a": "JSON"}, {})
    with pytest.raises(layout.StructureNotExact):
        layout.structure_type({"birthDate": "VARCHAR", "birthdate": "VARCHAR"}, {})


def test_a_failing_job_leaves_the_datastore_as_it_was(
    tmp_path: Path, synthea_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    import_bulk_export(synthea_dir / "Patient.000.ndjson", data_dir, HEALTHLAKE_DB)
    store = bulk_import.datastore_dir(data_dir, HEALTHLAKE_DB)
    before = sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file())
    calls = iter(range(1_000_000))
    real_check_line = bulk_import.check_line

    def failing_check_line(text: str, expected: str | None) -> tuple[Any, str | None]:
        if next(calls) == 5:
            raise OSError("disk went away")
        return real_check_line(text, expected)

    monkeypatch.setattr(bulk_import, "check_line", failing_check_line)
    with pytest.raises(OSError, match="disk went away"):
        import_bulk_export(synthea_dir, data_dir, HEALTHLAKE_DB)
    assert sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file()) == before
