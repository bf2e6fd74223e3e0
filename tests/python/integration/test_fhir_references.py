"""Dangling references and every reference form: the build succeeds, the unresolved references are exactly
the dangling ones with their reasons, the per-patient facts count only resolved resources, every known
patient is in patient_360, and `patient360 status` counts the unresolved per resource type.

Expected values come from tests/python/support/fhir_references.py (written by hand, case by case); one
import and one dbt build for the whole module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from patient360.dbt import DbtResult, run_dbt
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.status.collect import Status, collect_status
from patient360.warehouse import connect_warehouse
from tests.python.support import HEALTHLAKE_DB, settings_for
from tests.python.support.fhir_references import KNOWN_PATIENTS, expected_resolutions, write_reference_export

# What the assertions read, and only the tests of the HealthLake staging and clinical models (the other
# sources' tests have nothing to say here and cost build time).
SELECTION = ("+patient_360", "+fct_unresolved_patient_references", "+fct_patient_allergies",
             "path:models/staging/healthlake", "path:models/intermediate/clinical")


@dataclass
class Built:
    data_dir: Path
    build: DbtResult
    status: Status
    con: duckdb.DuckDBPyConnection


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("fhir_references")
    report = import_bulk_export(write_reference_export(root / "export"), root / "data", HEALTHLAKE_DB)
    assert not report.rejected, report.rejected
    settings = settings_for(root / "data")
    build = run_dbt(settings, "build", "--select", *SELECTION, "--indirect-selection", "empty", timeout_s=900)
    assert build.ok, build.output[-5000:]
    status = collect_status(settings, freshness=False)  # before this process opens the warehouse itself
    con = connect_warehouse(settings)
    yield Built(root / "data", build, status, con)
    con.close()


def mart(con: duckdb.DuckDBPyConnection, model: str) -> str:
    return f'"warehouse"."main_marts"."{model}"'


def test_unresolved_model_holds_exactly_the_dangling_references_with_their_reasons(built: Built) -> None:
    con = built.con
    rows = con.execute(
        f"select resource_type, resource_id, reason from {mart(con, 'fct_unresolved_patient_references')}"
    ).fetchall()
    expected = {(e.resource_type, e.resource_id, e.reason) for e in expected_resolutions() if e.reason}
    assert set(rows) == expected
    assert len(rows) == len(expected)
    # Each resource type has at least one dangling reference in the export.
    assert {t for t, _, _ in rows} == {"AllergyIntolerance", "Condition", "Immunization", "Encounter", "Observation"}


def test_every_reference_form_resolves_to_its_patient(built: Built) -> None:
    con = built.con
    resolved = dict(
        ((t, i), p) for t, i, p in con.execute(
            "select resource_type, resource_id, patient_id from "
            '"warehouse"."main_intermediate"."int_patient_references_resolved"'
        ).fetchall()
    )
    assert resolved == {(e.resource_type, e.resource_id): e.patient_id for e in expected_resolutions()}


def test_patient_360_has_every_known_patient_and_counts_only_resolved_resources(built: Built) -> None:
    con = built.con
    rows = con.execute(
        "select patient_id, allergy_count, active_condition_count, immunization_count "
        f"from {mart(con, 'patient_360')} order by patient_id"
    ).fetchall()
    resolved = [e for e in expected_resolutions() if e.patient_id]
    counts = {kind: Counter(e.patient_id for e in resolved if e.resource_type == kind)
              for kind in ("AllergyIntolerance", "Condition", "Immunization")}
    assert rows == [
        (p, counts["AllergyIntolerance"][p], counts["Condition"][p], counts["Immunization"][p])
        for p in KNOWN_PATIENTS
    ]
    allergy_patients = con.execute(
        f"select distinct allergy_id, patient_id from {mart(con, 'fct_patient_allergies')} order by allergy_id"
    ).fetchall()
    assert allergy_patients == sorted(
        (e.resource_id, e.patient_id) for e in resolved if e.resource_type == "AllergyIntolerance"
    )


def test_relationship_tests_warn_with_the_count_instead_of_failing(built: Built) -> None:
    warned = {
        node.unique_id.split(".")[2]: node.message for node in built.build.warnings
        if node.unique_id.split(".")[2].startswith("relationships_stg_healthlake__")
    }
    # One literal reference naming an unknown patient id per staging model.
    models = ("allergy_intolerances", "conditions", "immunizations", "encounters", "heart_rate_observations")
    assert warned == {
        f"relationships_stg_healthlake__{m}_patient_id__patient_id__ref_stg_healthlake__patients_":
            "Got 1 result, configured to warn if >0"
        for m in models
    }
    assert not built.build.failures


def test_status_counts_unresolved_references_per_resource_type(built: Built) -> None:
    expected = Counter(e.resource_type for e in expected_resolutions() if e.reason)
    assert built.status.unresolved_references == dict(expected)
