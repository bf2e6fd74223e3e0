"""Continuous mode and the stream / replica freshness thresholds.

* `patient360 continuous` for a bounded ~45 s against a real local broker and MariaDB: events become visible in
  patient_360, front-desk operations are replicated live, and no child process outlives it.
* `dbt source freshness` on the wearable stream landing and the zero-ETL replica passes, warns and errors at
  the configured thresholds (10 / 60 min for the stream, 6 / 24 h for the front desk).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from patient360.local_aws.attachments import ensure_attached_sources
from patient360.local_aws.streaming.landing import landing_table
from patient360.local_aws.zero_etl.replicator import METADATA_SCHEMA
from tests.python.support import run_cli, run_dbt, settings_for

pytestmark = pytest.mark.slow


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def test_continuous_mode_makes_events_visible_in_patient_360(
    synthea_dir: Path, tmp_path: Path, mariadb_server: Any
) -> None:
    env = {**mariadb_server.settings.as_env(), "KAFKA_BOOTSTRAP_SERVERS": ""}  # its own local broker
    imported = run_cli(tmp_path, "healthlake", "import", str(synthea_dir), timeout=300, **env)
    assert imported.returncode == 0, imported.stderr[-2000:]
    results = tmp_path / "freshness.json"
    completed = run_cli(
        tmp_path, "continuous", "--interval", "5", "--duration", "45", "--rate", "10", "--wearers", "5",
        "--front-desk", "on", "--desk-rate", "2", "--results", str(results), timeout=420, **env,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "p50" in completed.stdout and "p95" in completed.stdout
    summary = json.loads(results.read_text())["summary"]
    assert summary["samples_visible"] > 0
    assert summary["samples_visible"] + summary["samples_not_visible"] == summary["events_produced"]
    assert summary["samples_not_visible"] == 0, "the last build runs after the producer stopped and all landed"
    assert summary["builds"] >= 3 and summary["build_failures"] == 0
    assert 0 < summary["freshness_p50_s"] <= summary["freshness_p95_s"] < 120
    # live desk operations reached the replica (applied as batches after the snapshot)
    assert summary["front_desk_operations"] > 0
    with duckdb.connect(str(settings_for(tmp_path).replica_path), read_only=True) as con:
        (batches,) = con.execute(f"select count(*) from {METADATA_SCHEMA}.replication_lag").fetchone()
    assert batches > 0
    # clean shutdown: no ingest / replicate child left behind
    assert processes_mentioning(str(tmp_path)) == []


def landing_with_refresh(data_dir: Path, refresh_time: datetime) -> None:
    kafka = settings_for(data_dir).kafka
    with duckdb.connect(str(settings_for(data_dir).landing_path)) as con:
        con.execute(f"delete from {landing_table(kafka.external_schema, kafka.topic)}")
        con.execute(
            f"insert into {landing_table(kafka.external_schema, kafka.topic)} values "
            "(0, 0, 'C', ?, 'p'::blob, '{}'::blob, '[]', ?)",
            [refresh_time, refresh_time],
        )


def replica_state_updated(data_dir: Path, updated: datetime) -> None:
    settings = settings_for(data_dir)
    with duckdb.connect(str(settings.replica_path)) as con:
        con.execute(f"delete from {METADATA_SCHEMA}.integration_table_state")
        con.execute(
            f"insert into {METADATA_SCHEMA}.integration_table_state values ('front-desk-zero-etl', "
            "?, 'front_desk_app_db', 'patient_appointment', 'Synced', 'binlog.000001:4', null, "
            "?, 0, 'patient_id,appointment_datetime')",
            [settings.zetl_db, updated],
        )


@pytest.mark.parametrize(
    ("stream_age", "desk_age", "expected"),
    [
        (timedelta(minutes=2), timedelta(hours=1), "pass"),
        (timedelta(minutes=20), timedelta(hours=8), "warn"),
        (timedelta(hours=2), timedelta(hours=30), "error"),
    ],
)
def test_stream_and_replica_freshness_thresholds(tmp_path: Path, stream_age: timedelta, desk_age: timedelta,
                                                  expected: str) -> None:
    ensure_attached_sources(settings_for(tmp_path))
    now = datetime.now(UTC)
    landing_with_refresh(tmp_path, (now - stream_age).replace(tzinfo=None))
    replica_state_updated(tmp_path, now - desk_age)
    output = tmp_path / "sources.json"
    completed = run_dbt(tmp_path, "source", "freshness", "--select", "source:wearables_msk", "source:front_desk",
                        "--output", str(output))
    assert output.exists(), completed.stdout[-3000:]
    results = {r["unique_id"].split(".", 2)[2]: r for r in json.loads(output.read_text())["results"]}
    assert set(results) == {"wearables_msk.wearables_stream", "front_desk.patient_appointment"}
    for name, result in results.items():
        assert result["status"] == expected, (name, result["status"], result.get("max_loaded_at"))
    age = results["wearables_msk.wearables_stream"]["max_loaded_at_time_ago_in_s"]
    assert abs(age - stream_age.total_seconds()) < 120, "loaded-at is read as UTC"
    assert (completed.returncode != 0) == (expected == "error")
