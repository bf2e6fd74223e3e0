"""MariaDB front desk -> zero-ETL replica -> dbt: staging tests, identity matching, exceptions, summaries."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.local_aws.zero_etl.mysql import connect
from patient360.local_aws.zero_etl.replicator import Replicator
from patient360.settings import load_settings
from patient360.warehouse import connect_warehouse, relation_name
from simulators.front_desk.operations import FrontDeskPatient, FrontDeskSimulator, apply
from simulators.front_desk.patients import synthetic_patients
from simulators.front_desk.schema import create_schema
from tests.python.support import HEALTHLAKE_DB, run_dbt

pytestmark = pytest.mark.slow
ZETL_DB = "zetl_dbt_test"
START = datetime(2026, 3, 2, 7, 30)
# the front-desk models and the patients they resolve to (cautious: not the other staging models' tests)
BUILD_FRONT_DESK = (
    "build", "--select", "+stg_healthlake__patients", "source:front_desk+", "stg_front_desk__integration_table_state+",
    # the marts and the engagement write-back (it also reads the other sources) are not the front desk's
    "--exclude", "marts", "path:models/intermediate/engagement", "resource_type:snapshot",
    "--indirect-selection", "cautious",
)
MR_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def fhir_patient(patient_id: str, mrn: str, gender: str, birth_date: str) -> dict:
    return {
        "resourceType": "Patient", "id": patient_id, "gender": gender, "birthDate": birth_date,
        "identifier": [{"type": MR_TYPE, "system": "urn:example:mrn", "value": mrn}],
    }


@pytest.fixture()
def front_desk_warehouse(mariadb_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("P360_ZETL_DB", ZETL_DB)
    people = synthetic_patients(80, seed=21)
    # Two FHIR patients share an MRN; the desk knows one of them only by that MRN: ambiguous, not guessed.
    twin_a, twin_b = synthetic_patients(2, seed=99)
    fhir = [fhir_patient(p.patient_id, p.mrn, p.gender, p.birth_date.isoformat()) for p in people]
    fhir += [fhir_patient(t.patient_id, "DUP-0001", t.gender, t.birth_date.isoformat()) for t in (twin_a, twin_b)]
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.000.ndjson").write_text("\n".join(json.dumps(r) for r in fhir) + "\n")
    import_bulk_export(export, tmp_path, HEALTHLAKE_DB)

    settings = mariadb_server.settings  # database front_desk_app_db, as the dbt source expects
    con = connect(settings, with_database=False)
    create_schema(con, settings.database, drop=True)
    con.select_db(settings.database)
    desk_people = [*people, FrontDeskPatient(None, "DUP-0001", twin_a.gender, twin_a.birth_date, None)]
    simulator = FrontDeskSimulator(
        desk_people, seed=5, start=START, mrn_only_share=0.3, unknown_share=0.05, operations_per_day=250,
    )
    apply(simulator.history(days=60), con)
    apply(simulator.run(days=2), con)
    con.close()
    Replicator(settings, tmp_path, ZETL_DB, server_id=5100).run(until_caught_up=True, timeout=60)
    id_of = {p.patient_id: p.patient_id for p in people} | {p.mrn: p.patient_id for p in people}
    return tmp_path, simulator, id_of


def warehouse(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return connect_warehouse(load_settings(data_dir))  # attaches the replica under $P360_ZETL_DB


def test_dbt_models_resolve_identities_report_exceptions_and_summarise(front_desk_warehouse) -> None:
    data_dir, simulator, id_of = front_desk_warehouse
    as_of = simulator.clock.replace(microsecond=0)
    build = run_dbt(
        data_dir, *BUILD_FRONT_DESK,
        "--vars", f"{{as_of: '{as_of:%Y-%m-%d %H:%M:%S}'}}",
    )
    assert build.returncode == 0, build.stdout[-4000:]

    expected_unmatched = Counter(
        "ambiguous_mrn" if desk_id == "DUP-0001" else "unknown_patient"
        for desk_id, _ in simulator.rows if desk_id not in id_of
    )
    assert expected_unmatched["unknown_patient"] > 0 and expected_unmatched["ambiguous_mrn"] > 0
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    next_at: dict[str, datetime] = {}
    last_at: dict[str, datetime] = {}
    for (desk_id, when), row in simulator.rows.items():
        if desk_id not in id_of:
            continue
        patient = id_of[desk_id]
        expected[patient][row["status"]] += 1
        if row["status"] == "booked" and when > as_of:
            next_at[patient] = min(next_at.get(patient, when), when)
        if row["status"] in ("arrived", "fulfilled") and when <= as_of:
            last_at[patient] = max(last_at.get(patient, when), when)

    with warehouse(data_dir) as con:
        unmatched = Counter(dict(con.execute(
            f"select unmatched_reason, count(*) from {relation_name(con, 'int_appointments_unmatched')} group by 1"
        ).fetchall()))
        methods = dict(con.execute(
            f"select identity_match_method, count(*) from {relation_name(con, 'int_appointments_identity_matched')} "
            "where patient_id is not null group by 1"
        ).fetchall())
        summary = con.execute(
            "select patient_id, booked_count, arrived_count, fulfilled_count, cancelled_count, noshow_count, "
            "no_show_rate, next_appointment_at, last_visit_at "
            f"from {relation_name(con, 'int_appointments_summarised')} where is_identity_matched"
        ).fetchall()
        unmatched_summarised = con.execute(
            f"select patient_id, appointments_total from {relation_name(con, 'int_appointments_summarised')} "
            "where not is_identity_matched"
        ).fetchall()
        state = con.execute(
            "select source_table_name, table_state, table_rows "
            f"from {relation_name(con, 'stg_front_desk__integration_table_state')}"
        ).fetchall()
    assert state == [("patient_appointment", "Synced", len(simulator.rows))]
    assert unmatched == expected_unmatched
    assert methods.get("mrn", 0) > 0 and methods.get("fhir_id", 0) > 0
    assert {row[0] for row in summary} == set(expected)
    # Unmatched desk identities are summarised under 'front_desk:<id>', not dropped.
    unmatched_rows = Counter(desk_id for desk_id, _ in simulator.rows if desk_id not in id_of)
    assert dict(unmatched_summarised) == {f"front_desk:{d}": n for d, n in unmatched_rows.items()}
    for patient, booked, arrived, fulfilled, cancelled, noshow, rate, next_appt, last_visit in summary:
        counts = expected[patient]
        assert (booked, arrived, fulfilled, cancelled, noshow) == (
            counts["booked"], counts["arrived"], counts["fulfilled"], counts["cancelled"], counts["noshow"]
        )
        due = noshow + arrived + fulfilled
        assert rate == (pytest.approx(noshow / due) if due else None)
        assert next_appt == next_at.get(patient)
        assert last_visit == last_at.get(patient)


def test_dbt_staging_tests_catch_duplicate_keys_and_unknown_statuses(front_desk_warehouse) -> None:
    data_dir, _, _ = front_desk_warehouse
    build = run_dbt(data_dir, *BUILD_FRONT_DESK)
    assert build.returncode == 0, build.stdout[-4000:]
    # Tamper with the replica behind the replicator's back: a duplicated key and an unknown status.
    with duckdb.connect(str(data_dir / f"{ZETL_DB}.duckdb")) as replica:
        replica.execute(
            "insert into front_desk_app_db.patient_appointment "
            "select * replace ('waitlisted' as status) from front_desk_app_db.patient_appointment limit 1"
        )
    tested = run_dbt(data_dir, "test", "--select", "stg_front_desk__appointments")
    assert tested.returncode != 0
    assert "unique_combination_of_columns_stg_front_desk__appointments" in tested.stdout
    assert "accepted_values_stg_front_desk__appointments_appointment_status" in tested.stdout
