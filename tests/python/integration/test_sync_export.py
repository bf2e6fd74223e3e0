"""The patient 360 synced out and engagement written back, end to end on one small warehouse (built once):

  * the initial export equals patient_360 (every row, every column, once);
  * after a change in each of the three sources (HealthLake upsert, a front-desk cancellation replicated by
    CDC, new wearable events landed from the broker) and a rebuild, the next incremental export holds exactly
    the patients whose described columns changed, each once, and it includes the three touched patients;
  * a SIGKILL mid-batch (before the file is complete, then after it but before the watermark) repeats the
    batch: one file, the same rows, nothing lost or duplicated, and the next round exports nothing;
  * outreach events written back (with bad rows) show in patient_360 and the quarantine, and the next export
    carries exactly the patients they changed;
  * a patient deleted from every source (HealthLake delete, its front-desk rows deleted and replicated) is one
    tombstone in the next incremental export of either profile and absent from an initial one; re-imported, it
    is a live row again.
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.local_aws.healthlake.catalog import front_desk_patients as patients_from_healthlake
from patient360.local_aws.streaming.broker import free_port, start_local_broker
from patient360.local_aws.streaming.kafka_client import ensure_topic, produce_records
from patient360.local_aws.zero_etl.mysql import connect
from patient360.local_aws.zero_etl.replicator import Replicator
from patient360.settings import FRONT_DESK_DATABASE
from patient360.sync.s3 import S3Location, ensure_bucket, list_keys, s3_client
from simulators.fhir.population import PopulationConfig, generate_population, write_bulk_export
from simulators.front_desk.operations import FrontDeskSimulator, apply
from simulators.front_desk.schema import TABLE
from simulators.wearables.events import generate_events
from simulators.wearables.faults import event_record
from tests.python.support import HEALTHLAKE_DB, fresh_source, land, run_cli, run_dbt

pytestmark = pytest.mark.slow
ZETL_DB = "zetl_sync_test"
TOPIC = "wearables_stream_sync"
AS_OF = "2026-03-05 12:00:00"
# Models and the snapshot only: the project's data tests run elsewhere; this module tests the sync.
BUILD = ("build", "--select", "+patient_360_sync+", "+outreach_events_quarantine",
         "--exclude-resource-type", "test", "unit_test", "--vars", f"{{as_of: '{AS_OF}', wearables_topic: {TOPIC}}}")
ENV = {"P360_ZETL_DB": ZETL_DB, "P360_WEARABLES_TOPIC": TOPIC, "KAFKA_BOOTSTRAP_SERVERS": ""}


def build(data_dir: Path) -> None:
    result = run_dbt(data_dir, *BUILD, **ENV)
    assert result.returncode == 0, result.stdout[-4000:]


def table(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def parquet_rows(folder: Path, names: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in names:
        relation = duckdb.sql(f"select * from read_parquet('{folder / name}')")
        rows += [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    return rows


def export(data_dir: Path, out: Path, *args: str, **env: str) -> Any:
    return run_cli(data_dir, "sync", "export", "--to", str(out), *args, **{**ENV, **env})


def described(data_dir: Path) -> dict[str, tuple[Any, ...]]:
    """patient_360's checked columns per patient (what a change is, per the snapshot's yml)."""
    snapshot_yml = (Path(__file__).resolve().parents[3] / "snapshots" / "patient_360_snapshot.yml").read_text()
    columns = [line.strip()[2:] for line in snapshot_yml.split("check_cols:")[1].split("#")[0].splitlines()
               if line.strip().startswith("- ")]
    rows = table(data_dir, f"select patient_id, {', '.join(columns)} from main_marts.patient_360")
    return {row[0]: row[1:] for row in rows}


@pytest.fixture(scope="module")
def warehouse(mariadb_server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("sync")
    population = generate_population(PopulationConfig(patients=12, seed=17))
    write_bulk_export(population, data_dir / "export")
    assert not import_bulk_export(data_dir / "export", data_dir, HEALTHLAKE_DB).rejected
    mysql = fresh_source(mariadb_server, FRONT_DESK_DATABASE)
    people = patients_from_healthlake(data_dir / "awsdatacatalog.duckdb", HEALTHLAKE_DB)
    desk = FrontDeskSimulator(people, seed=3, start=datetime(2026, 3, 2, 7, 30), mrn_only_share=0.0,
                              unknown_share=0.0, operations_per_day=60)
    con = connect(mysql)
    apply(desk.history(days=10), con)
    apply(desk.run(days=1), con)
    con.close()
    replicator = Replicator(mysql, data_dir, ZETL_DB, server_id=5417)
    replicator.run(until_caught_up=True, timeout=60)
    wearers = [person.patient_id for person in people[:3]]
    start = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)
    broker = start_local_broker(log_path=data_dir / "tansu.log")
    ensure_topic(broker.bootstrap_servers, TOPIC, partitions=1)
    produce_records([event_record(e) for e in generate_events(wearers, seed=3, start=start, minutes=30)],
                    bootstrap_servers=broker.bootstrap_servers, topic=TOPIC)
    land(broker.bootstrap_servers, data_dir, topic=TOPIC, idle_polls=3)
    build(data_dir)
    yield {"data_dir": data_dir, "mysql": mysql, "replicator": replicator, "broker": broker,
           "wearers": wearers, "start": start, "out": data_dir / "out"}
    broker.stop()


def test_initial_export_equals_patient_360(warehouse: dict[str, Any]) -> None:
    data_dir, out = warehouse["data_dir"], warehouse["out"]
    result = export(data_dir, out, "--initial")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 1 and "__initial__" in files[0]
    exported = parquet_rows(out, files)
    expected = table(data_dir, "select * from main_marts.patient_360")
    columns = [row[0] for row in table(data_dir, "describe main_marts.patient_360")]
    assert len(exported) == len(expected) >= 12
    by_patient = {row["patient_id"]: tuple(row[c] for c in columns) for row in exported}
    assert by_patient == {row[0]: row for row in expected}  # every column of every row, each patient once
    assert all(row["last_updated_at"] is not None and row["is_deleted"] is False for row in exported)
    # The analytics profile: the same rows, PHI masked by the warehouse's analyst views.
    masked_out = data_dir / "out-analytics"
    assert export(data_dir, masked_out, "--initial", "--profile", "analytics").returncode == 0
    masked = {row["patient_id"]: row for row in parquet_rows(masked_out, sorted(p.name for p in masked_out.iterdir()))}
    assert masked.keys() == by_patient.keys()
    named = [row for row in masked.values() if row["given_name"] is not None]
    assert named and all(row["given_name"] == "REDACTED" and row["phone_number"] in (None, "REDACTED")
                         for row in named)
    clear_mrns = {row["mrn"] for row in exported if row["mrn"]}
    assert clear_mrns and not clear_mrns & {row["mrn"] for row in masked.values()}


def _change_the_three_sources(warehouse: dict[str, Any]) -> dict[str, str]:
    data_dir = warehouse["data_dir"]
    ids = [row[0] for row in table(data_dir, "select patient_id from main_marts.patient_360 "
                                             "where identity_source = 'healthlake' order by 1")]
    # HealthLake: one Patient upserted with a new family name (HealthLake's import is an upsert by id).
    renamed = ids[0]
    patient = next(json.loads(line) for line in (data_dir / "export" / "Patient.000.ndjson").read_text().splitlines()
                   if json.loads(line)["id"] == renamed)
    patient["name"][0]["family"] = "Renamedfamily"
    (data_dir / "change").mkdir()
    (data_dir / "change" / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    assert not import_bulk_export(data_dir / "change", data_dir, HEALTHLAKE_DB).rejected
    # Front desk: one booked appointment of another patient cancelled in the app, replicated by CDC.
    con = connect(warehouse["mysql"])
    with con.cursor() as cur:
        cur.execute(f"select patient_id, appointment_datetime from {TABLE} where status = 'booked' "
                    f"and patient_id <> %s order by patient_id limit 1", [renamed])
        desk_patient, at = cur.fetchone()
        cur.execute(f"update {TABLE} set status = 'cancelled', updated_at = now(6) "
                    f"where patient_id = %s and appointment_datetime = %s", [desk_patient, at])
    con.commit()
    con.close()
    warehouse["replicator"].run(until_caught_up=True, timeout=60)
    # Wearables: ten later minutes of one wearer, produced to the broker and landed.
    wearer = next(w for w in warehouse["wearers"] if w not in {renamed, desk_patient})
    later = warehouse["start"] + timedelta(hours=2)
    produce_records([event_record(e) for e in generate_events([wearer], seed=4, start=later, minutes=10)],
                    bootstrap_servers=warehouse["broker"].bootstrap_servers, topic=TOPIC)
    land(warehouse["broker"].bootstrap_servers, data_dir, topic=TOPIC, idle_polls=3)
    return {"healthlake": renamed, "front_desk": desk_patient, "wearables": wearer}


def _write_back_outreach(data_dir: Path, folder: Path) -> dict[str, tuple[datetime, str]]:
    """Outreach events for three patients (one with only bad rows) and one unknown id, via the CLI."""
    ids = [row[0] for row in table(data_dir, "select patient_id from main_marts.patient_360 order by 1")]
    folder.mkdir()
    (folder / "outreach.csv").write_text(
        "patient_id,event_type,occurred_at\n"
        f"{ids[1]},sent,2026-03-04T09:00:00Z\n{ids[1]},reached,2026-03-04T10:30:00Z\n"
        f"{ids[2]},declined,2026-03-03 16:00:00\n"
        "not-a-patient,sent,2026-03-04T09:00:00Z\n"
        f"{ids[3]},faxed,2026-03-04T09:00:00Z\n"
        f"{ids[3]},opened,last tuesday\n"
    )
    result = run_cli(data_dir, "sync", "import-engagement", str(folder), "--no-build", **ENV)
    assert result.returncode == 0, result.stderr
    return {ids[1]: (datetime(2026, 3, 4, 10, 30), "reached"), ids[2]: (datetime(2026, 3, 3, 16, 0), "declined"),
            "quarantined": ids[3]}  # type: ignore[dict-item]


@pytest.fixture(scope="module")
def changed_round(warehouse: dict[str, Any]) -> dict[str, Any]:
    """One round of changes: the three sources and the engagement write-back, then one rebuild."""
    data_dir = warehouse["data_dir"]
    before = described(data_dir)
    touched = _change_the_three_sources(warehouse)
    outreach = _write_back_outreach(data_dir, data_dir / "engagement")
    build(data_dir)
    after = described(data_dir)
    return {"touched": touched, "outreach": outreach,
            "changed": {pid for pid in after if before.get(pid) != after[pid]}}


def test_incremental_export_after_changes_in_the_three_sources_survives_sigkill(
    warehouse: dict[str, Any], changed_round: dict[str, Any]
) -> None:
    data_dir, out, changed = warehouse["data_dir"], warehouse["out"], changed_round["changed"]
    assert set(changed_round["touched"].values()) <= changed, (changed_round["touched"], changed)
    files_before = set(p.name for p in out.iterdir())
    killed = export(data_dir, out, P360_SYNC_FAULT="kill_mid_write")
    assert killed.returncode == -signal.SIGKILL
    assert set(p.name for p in out.iterdir()) == files_before  # nothing half-written is visible
    killed = export(data_dir, out, P360_SYNC_FAULT="kill_before_watermark")
    assert killed.returncode == -signal.SIGKILL
    resumed = export(data_dir, out)
    assert resumed.returncode == 0, resumed.stderr
    new_files = sorted(set(p.name for p in out.iterdir()) - files_before)
    assert len(new_files) == 1, new_files  # the repeated batch replaced its own file
    exported = [row["patient_id"] for row in parquet_rows(out, new_files)]
    assert sorted(exported) == sorted(changed)  # exactly the changed patients, once each
    outreach_patients = {pid for pid in changed_round["outreach"] if pid != "quarantined"}
    assert outreach_patients <= set(exported)  # the write-back travels out with the next sync
    last = export(data_dir, out)
    assert "nothing changed" in last.stderr
    outputs = "".join(r.stdout + r.stderr for r in (killed, resumed, last))
    assert "Renamedfamily" not in outputs  # logs name batches and counts, never a value


def test_engagement_written_back_shows_in_patient_360_with_bad_rows_quarantined(
    warehouse: dict[str, Any], changed_round: dict[str, Any]
) -> None:
    data_dir, expected = warehouse["data_dir"], dict(changed_round["outreach"])
    quarantined_patient = expected.pop("quarantined")
    outreach = {r[0]: r[1:] for r in table(
        data_dir, "select patient_id, last_outreach_at, last_outreach_outcome from main_marts.patient_360 "
                  "where last_outreach_at is not null")}
    assert outreach == expected
    quarantined = sorted(r for r in table(data_dir, "select patient_id, quarantine_reason "
                                                    "from main_marts.outreach_events_quarantine"))
    assert quarantined == sorted([("not-a-patient", "unknown_patient"), (quarantined_patient, "unknown_event_type"),
                                  (quarantined_patient, "bad_time")])
    # Re-importing the same file replaces its rows: no duplicate events.
    again = run_cli(data_dir, "sync", "import-engagement", str(data_dir / "engagement" / "outreach.csv"),
                    "--no-build", **ENV)
    assert again.returncode == 0, again.stderr
    assert table(data_dir, "select count(*) from engagement_raw.outreach_events")[0][0] == 6


def test_export_to_the_s3_stand_in_and_engagement_read_back_from_it(
    warehouse: dict[str, Any], tmp_path: Path
) -> None:
    """s3rver started by the project: the initial export lands as one object, then an engagement file is read
    from a bucket by the import (same boto3 calls as on AWS)."""
    data_dir = warehouse["data_dir"]
    started = run_cli(data_dir, "services", "start", "s3", P360_S3_PORT=str(free_port()))
    assert started.returncode == 0, started.stderr
    endpoint = started.stdout.strip().split("=", 1)[1]
    try:
        env = {**ENV, "P360_S3_ENDPOINT_URL": endpoint}
        result = run_cli(data_dir, "sync", "export", "--initial", "--to", "s3://activation/p360", **env)
        assert result.returncode == 0, result.stderr
        client = s3_client(endpoint, None)
        keys = list_keys(client, S3Location.parse("s3://activation/p360"))
        assert len(keys) == 1 and keys[0].startswith("p360/patient_360__care_team__initial__")
        client.download_file("activation", keys[0], str(tmp_path / "initial.parquet"))
        exported = duckdb.sql(f"select count(*) from read_parquet('{tmp_path / 'initial.parquet'}')").fetchall()[0]
        assert exported == table(data_dir, "select count(*) from main_marts.patient_360")[0]
        ensure_bucket(client, "platform")
        (tmp_path / "late.csv").write_text(
            "patient_id,event_type,occurred_at\nnot-a-patient,opened,2026-03-04T11:00:00Z\n")
        client.upload_file(str(tmp_path / "late.csv"), "platform", "outreach/late.csv")
        imported = run_cli(data_dir, "sync", "import-engagement", "s3://platform/outreach", "--no-build", **env)
        assert imported.returncode == 0, imported.stderr
        assert table(data_dir, "select count(*) from engagement_raw.outreach_events "
                               "where source_file = 's3://platform/outreach/late.csv'")[0][0] == 1
    finally:
        assert run_cli(data_dir, "services", "stop", "s3").returncode == 0


def _delete_from_every_source(warehouse: dict[str, Any], keep: set[str]) -> tuple[str, dict[str, Any]]:
    """A FHIR patient with desk appointments and no wearable: its Patient deleted in HealthLake (the CLI's
    --deletes), its appointments deleted in the desk app and replicated. Returns its id and its Patient."""
    data_dir = warehouse["data_dir"]
    gone = table(data_dir, "select patient_id from main_marts.patient_360 where identity_source = 'healthlake' "
                           "and appointments_total > 0 order by 1")
    patient_id = next(row[0] for row in gone if row[0] not in keep | set(warehouse["wearers"]))
    patient = next(json.loads(line) for line in (data_dir / "export" / "Patient.000.ndjson").read_text().splitlines()
                   if json.loads(line)["id"] == patient_id)
    (data_dir / "no-resources").mkdir()
    (data_dir / "deletes.txt").write_text(f"Patient/{patient_id}\n")
    deleted = run_cli(data_dir, "healthlake", "import", str(data_dir / "no-resources"),
                      "--deletes", str(data_dir / "deletes.txt"), **ENV)
    assert deleted.returncode == 0, deleted.stderr
    con = connect(warehouse["mysql"])
    with con.cursor() as cur:
        assert cur.execute(f"delete from {TABLE} where patient_id = %s", [patient_id]) > 0
    con.commit()
    con.close()
    warehouse["replicator"].run(until_caught_up=True, timeout=60)
    return patient_id, patient


def _new_rows(out: Path, before: set[str]) -> list[dict[str, Any]]:
    return parquet_rows(out, sorted(set(p.name for p in out.iterdir()) - before))


def test_a_patient_deleted_from_every_source_is_one_tombstone_then_live_again_when_back(
    warehouse: dict[str, Any], changed_round: dict[str, Any]
) -> None:
    data_dir, out = warehouse["data_dir"], warehouse["out"]
    outreach = changed_round["outreach"]  # the patients other tests look at stay
    keep = set(changed_round["touched"].values()) | set(outreach) | {outreach["quarantined"]}
    before, files_before = described(data_dir), set(p.name for p in out.iterdir())
    patient_id, patient = _delete_from_every_source(warehouse, keep)
    build(data_dir)
    after = described(data_dir)
    assert patient_id not in after
    result = export(data_dir, out)
    assert result.returncode == 0, result.stderr
    batch = _new_rows(out, files_before)
    tombstones = [row for row in batch if row["patient_id"] == patient_id]
    assert len(tombstones) == 1, batch  # one row for the patient, and it is the tombstone
    tombstone = tombstones[0]
    closed_at = table(data_dir, "select cast(max(dbt_valid_to) as timestamp) from main_snapshots.patient_360_snapshot "
                                f"where patient_id = '{patient_id}'")[0][0]
    assert tombstone["is_deleted"] is True and tombstone["last_updated_at"] == closed_at is not None
    assert all(value is None for column, value in tombstone.items()
               if column not in ("patient_id", "is_deleted", "last_updated_at"))
    others = [row for row in batch if row["patient_id"] != patient_id]
    assert not any(row["is_deleted"] for row in others)
    assert sorted(row["patient_id"] for row in others) == sorted(p for p in after if before.get(p) != after[p])
    # The analytics profile carries the same tombstone: the id is not PHI, so it leaves in clear; masking keeps
    # the absent values absent.
    masked_out = data_dir / "out-analytics"
    masked_before = set(p.name for p in masked_out.iterdir())
    assert export(data_dir, masked_out, "--profile", "analytics").returncode == 0
    masked = [row for row in _new_rows(masked_out, masked_before) if row["patient_id"] == patient_id]
    assert [(row["is_deleted"], row["identity_source"], row["last_updated_at"]) for row in masked] == [
        (True, None, closed_at)]
    assert all(value is None for column, value in masked[0].items()
               if column not in ("patient_id", "is_deleted", "last_updated_at"))
    # An initial export holds the live patients only: patient_360, no tombstone.
    initial_out = data_dir / "out-after-delete"
    assert export(data_dir, initial_out, "--initial").returncode == 0
    initial = _new_rows(initial_out, set())
    assert sorted(row["patient_id"] for row in initial) == sorted(after)
    assert not any(row["is_deleted"] for row in initial)
    # Back in HealthLake (a newer version than the delete): a live row again, newer than the tombstone.
    patient["meta"] = {**patient.get("meta", {}), "lastUpdated": datetime.now(UTC).isoformat(), "versionId": "9"}
    (data_dir / "back").mkdir()
    (data_dir / "back" / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    assert not import_bulk_export(data_dir / "back", data_dir, HEALTHLAKE_DB).rejected
    build(data_dir)
    files_before = set(p.name for p in out.iterdir())
    assert export(data_dir, out).returncode == 0
    back = [row for row in _new_rows(out, files_before) if row["patient_id"] == patient_id]
    assert [row["is_deleted"] for row in back] == [False] and back[0]["given_name"] is not None
    assert back[0]["last_updated_at"] > tombstone["last_updated_at"]
    assert table(data_dir, "select is_deleted from main_marts.patient_360_sync "
                           f"where patient_id = '{patient_id}'") == [(False,)]
