"""The bulk NDJSON import: HealthLake layout, rejection of bad lines with file/line/reason, counts."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.healthlake import layout
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from tests.python.support import HEALTHLAKE_DB


def synthea_lines(synthea_dir: Path, resource_type: str) -> list[str]:
    return (synthea_dir / f"{resource_type}.000.ndjson").read_text(encoding="utf-8").splitlines()


def catalog(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(data_dir / "awsdatacatalog.duckdb"), read_only=True)


@pytest.fixture
def mixed_export(tmp_path: Path, synthea_dir: Path) -> Path:
    """A Patient file with good lines and every kind of bad line, plus a good Condition file."""
    patients = synthea_lines(synthea_dir, "Patient")
    condition = synthea_lines(synthea_dir, "Condition")[0]
    no_id = json.loads(patients[2])
    del no_id["id"]
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.000.ndjson").write_text(
        "\n".join([
            patients[0],                      # line 1: good
            patients[1][:-40],                # line 2: truncated JSON
            condition,                        # line 3: a Condition in a Patient file
            "",                               # line 4: blank, skipped
            "[1, 2, 3]",                      # line 5: JSON but not a resource
            json.dumps(no_id),                # line 6: no id
            patients[3],                      # line 7: good
        ]) + "\n",
        encoding="utf-8",
    )
    (export / "Condition.000.ndjson").write_text(condition + "\n", encoding="utf-8")
    return export


def test_bad_lines_are_rejected_with_file_line_and_reason_and_good_lines_load(
    mixed_export: Path, tmp_path: Path, synthea_dir: Path
) -> None:
    data_dir = tmp_path / "data"
    report = import_bulk_export(mixed_export, data_dir, HEALTHLAKE_DB)

    rejected = {(r.file, r.line): r.reason for r in report.rejected}
    assert set(rejected) == {
        ("Patient.000.ndjson", 2), ("Patient.000.ndjson", 3), ("Patient.000.ndjson", 5), ("Patient.000.ndjson", 6)
    }
    assert rejected[("Patient.000.ndjson", 2)].startswith("malformed JSON")
    assert rejected[("Patient.000.ndjson", 3)] == "wrong resource type: Condition in a Patient file"
    assert "not a FHIR resource" in rejected[("Patient.000.ndjson", 5)]
    assert rejected[("Patient.000.ndjson", 6)] == "resource has no valid id"

    # Count in, count out: every non-blank line is either loaded or rejected.
    assert report.lines_read == 7
    assert report.loaded == {"Patient": 2, "Condition": 1}
    assert report.lines_read == report.loaded_total + len(report.rejected)

    patients = synthea_lines(synthea_dir, "Patient")
    expected_ids = {json.loads(patients[0])["id"], json.loads(patients[3])["id"]}
    with catalog(data_dir) as con:
        loaded_ids = {r[0] for r in con.execute(f"select id from {HEALTHLAKE_DB}.patient").fetchall()}
        logged = con.execute(
            "select file, line, reason from healthlake_import_log.rejected_resources order by line"
        ).fetchall()
        job = con.execute(
            "select lines_read, resources_loaded, resources_rejected from healthlake_import_log.jobs"
        ).fetchone()
    assert loaded_ids == expected_ids
    assert [(f, line) for f, line, _ in logged] == sorted(rejected)
    assert job == (7, 3, 4)


def test_rejection_reasons_carry_no_patient_data(mixed_export: Path, tmp_path: Path, synthea_dir: Path) -> None:
    report = import_bulk_export(mixed_export, tmp_path / "data", HEALTHLAKE_DB)
    phi_values = set()
    for line in synthea_lines(synthea_dir, "Patient")[:4]:
        patient = json.loads(line)
        phi_values |= {name["family"] for name in patient["name"]}
        phi_values |= {telecom["value"] for telecom in patient.get("telecom", [])}
        phi_values.add(patient["birthDate"])
    reasons = " ".join(r.reason for r in report.rejected)
    assert report.rejected and not any(value in reasons for value in phi_values)


def test_healthlake_layout_lowercase_nested_extensions_as_json_strings(tmp_path: Path, synthea_dir: Path) -> None:
    data_dir = tmp_path / "data"
    import_bulk_export(synthea_dir / "Patient.000.ndjson", data_dir, HEALTHLAKE_DB)
    first = json.loads(synthea_lines(synthea_dir, "Patient")[0])
    with catalog(data_dir) as con:
        columns = dict(con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = 'patient'", [HEALTHLAKE_DB]
        ).fetchall())
        extension, birthdate, address_extension = con.execute(
            f"select extension, birthdate, address[1].extension from {HEALTHLAKE_DB}.patient where id = ?",
            [first["id"]],
        ).fetchone()
    assert all(name == name.lower() for name in columns)
    assert columns["birthdate"] == "VARCHAR"
    assert columns["extension"] == "VARCHAR[]"
    assert "multiplebirthboolean" in columns or "multiplebirthinteger" in columns
    # Extensions keep FHIR's own JSON (camelCase keys), one string per extension, in order.
    assert [json.loads(e) for e in extension] == first["extension"]
    assert birthdate == first["birthDate"]
    assert [json.loads(e) for e in address_extension] == first["address"][0]["extension"]


def test_every_declared_resource_table_exists_even_when_empty(tmp_path: Path, synthea_dir: Path) -> None:
    data_dir = tmp_path / "data"
    import_bulk_export(synthea_dir / "Patient.000.ndjson", data_dir, HEALTHLAKE_DB)
    with catalog(data_dir) as con:
        tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [HEALTHLAKE_DB]
        ).fetchall()}
        reaction_type = con.execute(
            "select data_type from information_schema.columns where table_schema = ? "
            "and table_name = 'allergyintolerance' and column_name = 'reaction'", [HEALTHLAKE_DB]
        ).fetchone()[0]
        observations = con.execute(f"select count(*) from {HEALTHLAKE_DB}.observation").fetchone()[0]
    assert {layout.table_name(t) for t in layout.BASE_SCHEMAS} <= tables
    assert "manifestation" in reaction_type.lower()
    assert observations == 0


def test_reimport_upserts_by_id_last_write_wins(tmp_path: Path, synthea_dir: Path) -> None:
    data_dir = tmp_path / "data"
    lines = synthea_lines(synthea_dir, "Patient")
    import_bulk_export(synthea_dir / "Patient.000.ndjson", data_dir, HEALTHLAKE_DB)
    changed = json.loads(lines[0])
    changed["gender"] = "other" if changed["gender"] != "other" else "unknown"
    update = tmp_path / "update" / "Patient.000.ndjson"
    update.parent.mkdir()
    update.write_text(json.dumps(changed) + "\n", encoding="utf-8")
    import_bulk_export(update, data_dir, HEALTHLAKE_DB)
    with catalog(data_dir) as con:
        count = con.execute(f"select count(*) from {HEALTHLAKE_DB}.patient").fetchone()[0]
        gender = con.execute(f"select gender from {HEALTHLAKE_DB}.patient where id = ?", [changed["id"]]).fetchone()[0]
    assert count == len(lines)
    assert gender == changed["gender"]


def test_validate_rejects_invalid_fhir_without_echoing_values(tmp_path: Path, synthea_dir: Path) -> None:
    patient = json.loads(synthea_lines(synthea_dir, "Patient")[0])
    patient["birthDate"] = "born-on-a-tuesday"
    source = tmp_path / "Patient.000.ndjson"
    source.write_text(synthea_lines(synthea_dir, "Patient")[1] + "\n" + json.dumps(patient) + "\n", encoding="utf-8")
    report = import_bulk_export(source, tmp_path / "data", HEALTHLAKE_DB, validate=True)
    assert report.loaded == {"Patient": 1}
    [rejection] = report.rejected
    assert rejection.line == 2 and rejection.reason.startswith("invalid FHIR R4: birthDate")
    assert "born-on-a-tuesday" not in rejection.reason


def test_missing_source_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no \\*.ndjson files"):
        import_bulk_export(tmp_path, tmp_path / "data", HEALTHLAKE_DB)


def test_type_merge_widens_numbers_and_falls_back_to_json() -> None:
    assert layout.merge_types(layout.BIGINT, layout.DOUBLE) == layout.DOUBLE
    assert layout.merge_types(layout.VARCHAR, layout.struct(a=layout.VARCHAR)) == layout.JSON
    merged = layout.merge_types(layout.struct(a=layout.VARCHAR), layout.struct(b=layout.BOOLEAN))
    assert merged == layout.struct(a=layout.VARCHAR, b=layout.BOOLEAN)
