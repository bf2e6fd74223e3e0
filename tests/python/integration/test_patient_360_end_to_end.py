"""Simulated population -> all three sources -> patient_360, checked against the simulators' own truth.

HealthLake: the FHIR population imported in the HealthLake layout. Front desk: operations on real
MariaDB, replicated by binlog CDC. Wearables: events produced to the local Kafka broker and landed by
the streaming-ingestion stand-in. Expected values are computed here in Python, never read back.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.local_aws.healthlake.catalog import front_desk_patients as patients_from_healthlake
from patient360.local_aws.streaming.broker import start_local_broker
from patient360.local_aws.streaming.kafka_client import ensure_topic, produce_records
from patient360.local_aws.zero_etl.mysql import connect
from patient360.local_aws.zero_etl.replicator import Replicator
from patient360.settings import load_settings
from patient360.warehouse import connect_warehouse, relation_name
from simulators.fhir.population import PopulationConfig, generate_population, write_bulk_export
from simulators.front_desk.operations import FrontDeskSimulator, apply
from simulators.front_desk.schema import create_schema
from simulators.wearables.events import generate_events
from simulators.wearables.faults import with_faults
from tests.python.support import HEALTHLAKE_DB, dbt_target, land, run_dbt

pytestmark = pytest.mark.slow
ZETL_DB = "zetl_patient360_test"
TOPIC = "wearables_stream_p360"
DESK_START = datetime(2026, 3, 2, 7, 30)
DEVICE_ONLY_PATIENT = "device-only-0001"


@pytest.fixture(scope="module")
def three_sources(mariadb_server, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("patient360")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("P360_ZETL_DB", ZETL_DB)

    # HealthLake
    population = generate_population(PopulationConfig(patients=25, seed=360))
    write_bulk_export(population, data_dir / "export")
    assert not import_bulk_export(data_dir / "export", data_dir, HEALTHLAKE_DB).rejected

    # Front desk on MariaDB -> zero-ETL replica; the desk knows some patients only by MRN.
    settings = mariadb_server.settings
    con = connect(settings, with_database=False)
    create_schema(con, settings.database, drop=True)
    con.select_db(settings.database)
    people = patients_from_healthlake(data_dir / "awsdatacatalog.duckdb", HEALTHLAKE_DB)
    desk = FrontDeskSimulator(
        people, seed=7, start=DESK_START, mrn_only_share=0.3, unknown_share=0.1, operations_per_day=120
    )
    apply(desk.history(days=30), con)
    apply(desk.run(days=1), con)
    con.close()
    Replicator(settings, data_dir, ZETL_DB, server_id=5360).run(until_caught_up=True, timeout=60)
    as_of = desk.clock.replace(microsecond=0)

    # Wearables: three days of minutes ending a week before "now", so the 7-day window cuts through them.
    wearers = [p.patient_id for p in people[:5]] + [DEVICE_ONLY_PATIENT]
    wear_start = datetime.combine(as_of.date() - timedelta(days=8), datetime.min.time(), tzinfo=UTC)
    events = list(generate_events(wearers, seed=3, start=wear_start, minutes=3 * 24 * 60))
    broker = start_local_broker(log_path=data_dir / "tansu.log")
    try:
        ensure_topic(broker.bootstrap_servers, TOPIC, partitions=2)
        records = list(with_faults(events, seed=3, duplicate_rate=0.02, malformed_rate=0.01))
        produce_records(records, bootstrap_servers=broker.bootstrap_servers, topic=TOPIC)
        landed = land(broker.bootstrap_servers, data_dir, topic=TOPIC, idle_polls=4)
        assert landed.landed == len(records)
    finally:
        broker.stop()

    monkeypatch.setenv("P360_WEARABLES_TOPIC", TOPIC)
    dbt_vars = f"{{as_of: '{as_of:%Y-%m-%d %H:%M:%S}', wearables_topic: {TOPIC}}}"
    build = run_dbt(data_dir, "build", "--vars", dbt_vars)
    assert build.returncode == 0, build.stdout[-5000:]
    # Analyses compile before the read-only connection below takes the warehouse file.
    compiled = run_dbt(data_dir, "compile", "--select", "resource_type:analysis", "--vars", dbt_vars)
    assert compiled.returncode == 0, compiled.stdout[-5000:]
    analyses = {
        path.stem: path.read_text(encoding="utf-8")
        for path in (dbt_target(data_dir) / "compiled").rglob("analyses/**/*.sql")
    }
    warehouse = connect_warehouse(load_settings(data_dir))
    yield population, desk, people, events, as_of, warehouse, analyses
    warehouse.close()
    monkeypatch.undo()


def test_every_patient_of_every_source_is_in_patient_360_with_its_values(three_sources) -> None:
    population, desk, people, events, as_of, warehouse, _ = three_sources
    rows = warehouse.execute(
        "select patient_id, identity_source, allergy_count, next_appointment_at, appointments_total, "
        f"active_minutes_last_7_days, active_minutes_last_30_days from {relation_name(warehouse, 'patient_360')}"
    ).fetchall()
    by_id = {r[0]: r[1:] for r in rows}
    assert len(by_id) == len(rows)

    # Identity: FHIR ids and MRNs resolve; everything else keeps its own row.
    id_of = {p.patient_id: p.patient_id for p in people} | {p.mrn: p.patient_id for p in people if p.mrn}
    desk_only = {f"front_desk:{desk_id}" for desk_id, _ in desk.rows if desk_id not in id_of}
    assert desk_only, "the desk should know some people no other source knows"
    expected_ids = set(population.ground_truth) | desk_only | {DEVICE_ONLY_PATIENT}
    assert set(by_id) == expected_ids
    assert {pid for pid, r in by_id.items() if r[0] == "front_desk_only"} == desk_only
    assert by_id[DEVICE_ONLY_PATIENT][0] == "wearables_only"

    # Allergies from the FHIR ground truth.
    for patient_id, truth in population.ground_truth.items():
        assert by_id[patient_id][0] == "healthlake"
        assert by_id[patient_id][1] == truth.allergy_count, patient_id

    # Next appointment: the earliest still-booked one after now (cancelled and rescheduled ones gone).
    next_at: dict[str, datetime] = {}
    totals: dict[str, int] = defaultdict(int)
    for (desk_id, when), row in desk.rows.items():
        patient = id_of.get(desk_id, f"front_desk:{desk_id}")
        totals[patient] += 1
        if row["status"] == "booked" and when > as_of:
            next_at[patient] = min(next_at.get(patient, when), when)
    assert any(next_at.values())
    for patient_id, row in by_id.items():
        assert row[2] == next_at.get(patient_id), patient_id
        assert row[3] == totals.get(patient_id, 0), patient_id

    # Active minutes: minutes whose average heart rate is above 80, by event-time day.
    active_by_day: dict[tuple[str, date], int] = defaultdict(int)
    for event in events:
        if event.heart_rate > 80:  # one event per device minute
            active_by_day[(event.patient_id, event.event_time.date())] += 1
    as_of_day = as_of.date()
    for patient_id in {e.patient_id for e in events}:
        last_7 = sum(n for (p, d), n in active_by_day.items() if p == patient_id and (as_of_day - d).days < 7)
        last_30 = sum(n for (p, d), n in active_by_day.items() if p == patient_id and (as_of_day - d).days < 30)
        assert (by_id[patient_id][4], by_id[patient_id][5]) == (last_7, last_30), patient_id
    assert any(by_id[p][5] > by_id[p][4] for p in {e.patient_id for e in events}), "window should cut"


def active_minutes_by_day(events) -> dict[tuple[str, date], int]:  # type: ignore[no-untyped-def]
    counts: dict[tuple[str, date], int] = defaultdict(int)
    for event in events:
        counts[(event.patient_id, event.event_time.date())] += event.heart_rate > 80
    return counts


def test_reference_analyses_and_care_gaps_run_on_the_marts(three_sources) -> None:
    population, desk, people, events, as_of, warehouse, analyses = three_sources
    per_day = warehouse.execute(analyses["active_minutes_per_day"]).fetchall()
    assert {(p, d): n for p, d, n, *_ in per_day} == active_minutes_by_day(events)

    overview = warehouse.execute(analyses["patient_360_overview"]).fetchall()
    total = warehouse.execute(f"select count(*) from {relation_name(warehouse, 'patient_360')}").fetchone()[0]
    assert len(overview) == total and [r[0] for r in overview] == sorted(r[0] for r in overview)

    allergies = population.resources["AllergyIntolerance"]
    risky = {
        a["patient"]["reference"].removeprefix("Patient/") for a in allergies if a.get("criticality") == "high"
    } | {t.patient_id for t in population.ground_truth.values() if t.anaphylaxis_allergy_count}
    upcoming = {
        r[0] for r in warehouse.execute(
            f"select patient_id from {relation_name(warehouse, 'patient_360')} where next_appointment_at is not null"
        ).fetchall()
    }
    gap = {r[0] for r in warehouse.execute(analyses["allergic_patients_with_upcoming_appointments"]).fetchall()}
    assert gap == risky & upcoming

    last_event: dict[str, datetime] = {}
    for event in events:
        last_event[event.patient_id] = max(last_event.get(event.patient_id, event.event_time), event.event_time)
    inactive = {p for p, t in last_event.items() if t.replace(tzinfo=None) < as_of - timedelta(days=14)}
    assert {r[0] for r in warehouse.execute(analyses["inactive_wearers"]).fetchall()} == inactive


def test_analyst_view_of_patient_360_reveals_no_name_phone_mrn_or_birth_date(three_sources) -> None:
    population, _, people, _, _, warehouse, _ = three_sources
    schema = relation_name(warehouse, "patient_360").split(".")[0].strip('"')
    rows = warehouse.execute(f"select * from {schema}_analyst.patient_360").fetchall()
    assert len(rows) == warehouse.execute(f"select count(*) from {schema}.patient_360").fetchone()[0]
    shown = {str(value) for row in rows for value in row if value is not None}
    secrets = {p.phone for p in people if p.phone} | {p.mrn for p in people if p.mrn}
    for truth in population.ground_truth.values():
        secrets |= {truth.given_name, truth.family_name, truth.phone, truth.mrn}
        if truth.birth_date.timetuple().tm_yday != 1:
            secrets.add(str(truth.birth_date))
    assert not secrets & shown
