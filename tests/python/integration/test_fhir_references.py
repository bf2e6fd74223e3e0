"""Dangling references and every reference form: the build succeeds, the unresolved references are exactly
the dangling ones with their reasons, the per-patient facts count only resolved resources, every known
patient is in patient_360, and `patient360 status` counts the unresolved per resource type.

Expected values come from tests/python/support/fhir_references.py (written by hand, case by case); one
import and one dbt build for the whole module.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patient360.dbt import DbtResult, run_dbt
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.status.collect import Status, collect_status
from patient360.warehouse import connect_warehouse
from tests.python.support import HEALTHLAKE_DB, dbt_target, settings_for
from tests.python.support.fhir_references import (
    KNOWN_PATIENTS,
    MRN_SYSTEM,
    by_identifier,
    clinical,
    contained_patient,
    expected_resolutions,
    patient,
    write_reference_export,
)

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
    expected = {
        f"relationships_stg_healthlake__{m}_patient_id__patient_id__ref_stg_healthlake__patients_":
            "Got 1 result, configured to warn if >0"
        for m in models
    }
    assert warned == expected
    assert not built.build.failures


def test_status_counts_unresolved_references_per_resource_type(built: Built) -> None:
    expected = Counter(e.resource_type for e in expected_resolutions() if e.reason)
    assert built.status.unresolved_references == dict(expected)


# --- property: any mix of reference forms resolves as the forms say ---------------------------------------

FORM_PATIENTS = ("p0", "p1", "p2")  # p2 arrives in a Bundle: only its fullUrl is known
FULL_URLS = {p: f"urn:uuid:00000000-0000-4000-8000-00000000000{n}" for n, p in enumerate(FORM_PATIENTS)}
OTHER_URN = "urn:uuid:99999999-0000-4000-8000-000000000000"
unknown_ids = st.from_regex(r"x-[A-Za-z0-9.-]{1,12}", fullmatch=True)
targets = st.one_of(st.sampled_from(FORM_PATIENTS), unknown_ids)


def reference_case(draw: st.DrawFn) -> tuple[dict[str, Any], Any, str | None, str | None]:
    """(reference element, contained resources, expected patient, expected reason) of one allergy."""
    form = draw(st.sampled_from(["relative", "versioned", "absolute", "urn", "identifier", "conditional",
                                 "contained", "other_type", "missing"]))
    target = draw(targets)
    known = target in FORM_PATIENTS
    not_there = (target if known else None, None if known else f"patient {target} is not in the datastore")
    mrn = f"MRN-{target}"
    by_mrn = (target if known else None, None if known else "no known patient has this identifier")
    if form == "relative":
        return {"reference": f"Patient/{target}"}, None, *not_there
    if form == "versioned":
        return {"reference": f"Patient/{target}/_history/{draw(st.integers(1, 99))}"}, None, *not_there
    if form == "absolute":
        host = draw(st.sampled_from(["https://ehr.example.org/fhir", "http://h:8080/r4/base"]))
        return {"reference": f"{host}/Patient/{target}"}, None, *not_there
    if form == "urn":
        urn = FULL_URLS.get(target, OTHER_URN)
        resolved = target == "p2"
        return {"reference": urn}, None, target if resolved else None, \
            None if resolved else "no imported resource has this fullUrl"
    system = draw(st.sampled_from([MRN_SYSTEM, None]))
    if form == "identifier":
        return by_identifier(mrn, system), None, *by_mrn
    if form == "conditional":
        token = f"{system}|{mrn}" if system else mrn
        return {"reference": f"Patient?identifier={token}"}, None, *by_mrn
    if form == "contained":
        with_identifier = draw(st.booleans())
        contained = [contained_patient("pat", mrn if with_identifier else None)]
        if not with_identifier:
            return {"reference": "#pat"}, contained, None, "contained resource not found or without identifier"
        return {"reference": "#pat"}, contained, *by_mrn
    if form == "other_type":
        other = draw(st.sampled_from(["Group", "Practitioner", "RelatedPerson"]))
        return {"reference": f"{other}/{target}"}, None, None, f"refers to a {other}, not a Patient"
    return {}, None, None, "no patient reference"


@contextmanager
def source_swapped(con: duckdb.DuckDBPyConnection, catalog: Path, original: Path) -> Iterator[None]:
    """The built warehouse's views read another HealthLake catalog for a while."""
    con.execute("detach awsdatacatalog")
    con.execute(f"attach '{catalog}' as awsdatacatalog (read_only)")
    try:
        yield
    finally:
        con.execute("detach awsdatacatalog")
        con.execute(f"attach '{original}' as awsdatacatalog (read_only)")


_examples = itertools.count()


@settings(max_examples=6, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cases=st.lists(st.composite(reference_case)(), min_size=1, max_size=12))
def test_reference_forms_resolve_as_their_form_says(built: Built, tmp_path: Path, cases: list[Any]) -> None:
    root = tmp_path / f"forms-{next(_examples)}"
    export = root / "export"
    export.mkdir(parents=True)
    patients = [patient(p, f"MRN-{p}") for p in FORM_PATIENTS]
    (export / "Patient.000.ndjson").write_text("".join(json.dumps(p) + "\n" for p in patients[:2]), encoding="utf-8")
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"fullUrl": FULL_URLS["p2"], "resource": patients[2]}]}
    (export / "Bundle.000.ndjson").write_text(json.dumps(bundle) + "\n", encoding="utf-8")
    allergies = [clinical("AllergyIntolerance", f"a{n}", ref or None, contained)
                 for n, (ref, contained, _, _) in enumerate(cases)]
    (export / "AllergyIntolerance.000.ndjson").write_text(
        "".join(json.dumps(a) + "\n" for a in allergies), encoding="utf-8")
    report = import_bulk_export(export, root / "data", HEALTHLAKE_DB)
    assert not report.rejected
    catalog = settings_for(root / "data").healthlake_catalog_path
    with source_swapped(built.con, catalog, settings_for(built.data_dir).healthlake_catalog_path):
        got = built.con.execute(
            "select resource_id, patient_id, unresolved_reason from "
            '"warehouse"."main_intermediate"."int_patient_references_resolved" order by resource_id'
        ).fetchall()
    assert sorted(got) == sorted((f"a{n}", patient_id, reason) for n, (_, _, patient_id, reason) in enumerate(cases))


def test_no_incremental_model_reads_healthlake_so_a_build_equals_a_full_refresh(built: Built) -> None:
    """Updates and deletes reach the marts on the next build only if nothing downstream of HealthLake keeps
    old rows: every model fed by a HealthLake table is a view or a table (rebuilt whole), none incremental."""
    manifest = json.loads((dbt_target(built.data_dir) / "manifest.json").read_text(encoding="utf-8"))
    children: dict[str, list[str]] = manifest["child_map"]
    pending = [uid for uid in manifest["sources"] if uid.startswith("source.patient360.healthlake.")]
    downstream: set[str] = set()
    while pending:
        for child in children.get(pending.pop(), []):
            if child.startswith("model.") and child not in downstream:
                downstream.add(child)
                pending.append(child)
    assert "model.patient360.patient_360" in downstream
    materialized = {uid: manifest["nodes"][uid]["config"]["materialized"] for uid in downstream}
    assert {uid for uid, kind in materialized.items() if kind not in ("view", "table")} == set(), materialized
