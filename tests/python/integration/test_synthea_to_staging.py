"""Real Synthea bulk export (nobody here wrote it) -> HealthLake stand-in -> dbt build -> staging.

Expected values are computed here, independently, from the NDJSON with plain Python.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.settings import load_settings
from patient360.warehouse import connect_warehouse, relation_name
from tests.python.support import HEALTHLAKE_DB, run_dbt


def read_ndjson(folder: Path, resource_type: str) -> list[dict]:
    path = folder / f"{resource_type}.000.ndjson"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def expected_allergy_rows(allergy: dict) -> int:
    """Left-outer un-nesting: allergy x reaction x manifestation x coding, an empty level counts once."""
    reaction_rows = [
        max(1, sum(max(1, len(m.get("coding", []))) for m in reaction.get("manifestation", [])))
        for reaction in allergy.get("reaction", [])
    ]
    return max(1, sum(reaction_rows))


def mrn_of(patient: dict) -> str | None:
    mrns = [
        identifier["value"]
        for identifier in patient.get("identifier", [])
        if any(c.get("code") == "MR" for c in identifier.get("type", {}).get("coding", []))
    ]
    return min(mrns) if mrns else None


@pytest.fixture(scope="module")
def synthea_warehouse(
    synthea_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    data_dir = tmp_path_factory.mktemp("synthea")
    report = import_bulk_export(synthea_dir, data_dir, HEALTHLAKE_DB, validate=True)
    assert not report.rejected, report.rejected
    build = run_dbt(data_dir, "build")
    assert build.returncode == 0, build.stdout[-4000:]
    con = connect_warehouse(load_settings(data_dir))
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, model: str, columns: str) -> list[tuple]:
    return con.execute(f"select {columns} from {relation_name(con, model)}").fetchall()


def test_every_patient_reaches_staging_with_its_demographics(synthea_warehouse, synthea_dir: Path) -> None:
    patients = read_ndjson(synthea_dir, "Patient")
    staged = {
        r[0]: r[1:]
        for r in rows(synthea_warehouse, "stg_healthlake__patients",
                      "patient_id, mrn, gender, cast(birth_date as varchar), is_deceased, family_name, given_name")
    }
    assert len(staged) == len(patients) == 13
    for patient in patients:
        official = next(n for n in patient["name"] if n.get("use") == "official")
        assert staged[patient["id"]] == (
            mrn_of(patient),
            patient["gender"],
            patient["birthDate"],
            "deceasedDateTime" in patient or patient.get("deceasedBoolean", False),
            official["family"],
            official["given"][0],
        )


def test_every_allergy_reaches_staging_with_and_without_reactions(synthea_warehouse, synthea_dir: Path) -> None:
    allergies = read_ndjson(synthea_dir, "AllergyIntolerance")
    staged = rows(synthea_warehouse, "stg_healthlake__allergy_intolerances", "allergy_id, patient_id, has_reaction")
    per_allergy: dict[str, int] = {}
    for allergy_id, _, _ in staged:
        per_allergy[allergy_id] = per_allergy.get(allergy_id, 0) + 1

    expected = {a["id"]: expected_allergy_rows(a) for a in allergies}
    assert per_allergy == expected
    without_reaction = {a["id"] for a in allergies if not a.get("reaction")}
    assert without_reaction, "the sample is expected to hold allergies without reactions"
    assert {a for a, _, has in staged if not has} == without_reaction
    patient_of = {a["id"]: a["patient"]["reference"].removeprefix("Patient/") for a in allergies}
    assert {(a, p) for a, p, _ in staged} == set(patient_of.items())


def test_conditions_immunizations_encounters_all_staged(synthea_warehouse, synthea_dir: Path) -> None:
    for resource_type, model, key in [
        ("Condition", "stg_healthlake__conditions", "condition_id"),
        ("Immunization", "stg_healthlake__immunizations", "immunization_id"),
        ("Encounter", "stg_healthlake__encounters", "encounter_id"),
    ]:
        source_ids = {r["id"] for r in read_ndjson(synthea_dir, resource_type)}
        staged_ids = {r[0] for r in rows(synthea_warehouse, model, key)}
        assert staged_ids == source_ids, resource_type
    active = {
        r["id"] for r in read_ndjson(synthea_dir, "Condition")
        if r["clinicalStatus"]["coding"][0]["code"] in {"active", "recurrence", "relapse"}
    }
    staged = rows(synthea_warehouse, "stg_healthlake__conditions", "condition_id, is_active")
    staged_active = {condition_id for condition_id, is_active in staged if is_active}
    assert staged_active == active


def test_race_and_ethnicity_come_from_the_us_core_extensions(synthea_warehouse, synthea_dir: Path) -> None:
    def text_of(patient: dict, url_suffix: str) -> str | None:
        for extension in patient.get("extension", []):
            if extension["url"].endswith(url_suffix):
                return next(e["valueString"] for e in extension["extension"] if e["url"] == "text")
        return None

    expected = {
        p["id"]: (text_of(p, "us-core-race"), text_of(p, "us-core-ethnicity"))
        for p in read_ndjson(synthea_dir, "Patient")
    }
    staged = {r[0]: (r[1], r[2]) for r in rows(synthea_warehouse, "stg_healthlake__patients",
                                               "patient_id, race, ethnicity")}
    assert staged == expected


def test_every_synthea_patient_reaches_patient_360(synthea_warehouse, synthea_dir: Path) -> None:
    patients = read_ndjson(synthea_dir, "Patient")
    allergies = read_ndjson(synthea_dir, "AllergyIntolerance")
    staged = dict(rows(synthea_warehouse, "patient_360", "patient_id, allergy_count"))
    expected_allergies = {p["id"]: 0 for p in patients}
    for allergy in allergies:
        expected_allergies[allergy["patient"]["reference"].removeprefix("Patient/")] += 1
    assert staged == expected_allergies
