"""End to end with the real local broker: produce -> land -> dbt, and crashes of the ingestor.

N records go in (events, producer-retry duplicates, malformed records); the landing table must hold
each offset exactly once, the events model exactly the unique valid events, the quarantine exactly
the bad records, the daily activity what plain Python computes from the events.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from simulators.wearables.events import DEFAULT_START, generate_events
from simulators.wearables.faults import BAD_KINDS, DUPLICATE, Record, with_faults
from simulators.wearables.producer import ensure_topic, produce_records
from simulators.zero_etl.kafka_broker import BrokerError, LocalBroker, start_local_broker
from simulators.zero_etl.stream_landing import FAULT_ENV, landing_lock, landing_path, refresh
from tests.python import conftest
from tests.python.wearables_oracle import expected_daily_activity, expected_outcome

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PATIENTS = [f"patient-{n:03d}" for n in range(6)]
TOPIC = "wearables_stream"
GOOD = (
    '"event_id": "odd-{n}", "patient_id": "patient-000", "device_id": "d", '
    '"event_time": "2026-01-05T05:00:00.000Z", "steps_increment": 3'
)
# Hand-made records for every rejection reason (and two usable oddities); the oracle decides.
ODD_RECORDS = [
    b"[1, 2]",
    b'"just a string"',
    b"",
    ("{" + GOOD.format(n=1) + ', "heart_rate": "80"}').encode(),
    ("{" + GOOD.format(n=2) + ', "heart_rate": true}').encode(),
    ("{" + GOOD.format(n=3).replace("05T05", "05 05") + ', "heart_rate": 70}').encode(),
    ("{" + GOOD.format(n=4).replace("01-05", "02-30") + ', "heart_rate": 70}').encode(),
    ("{" + GOOD.format(n=5).replace('"steps_increment": 3', '"steps_increment": -3') + ', "heart_rate": 70}').encode(),
    ("{" + GOOD.format(n=6).replace('"steps_increment": 3', '"steps_increment": 2.5') + ', "heart_rate": 70}').encode(),
    ("{" + GOOD.format(n=7).replace('"event_id": "odd-7", ', "") + ', "heart_rate": 70}').encode(),
    ("{" + GOOD.format(n=8) + ', "heart_rate": 251}').encode(),
    ("{" + GOOD.format(n=9) + ', "heart_rate": 72.5, "extra": {"nested": [1]}}').encode(),
    ("{" + GOOD.format(n=10) + ', "heart_rate": 25}').encode(),
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    local = start_local_broker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
    yield local
    local.stop()


def landing_rows(data_dir: Path, topic: str = TOPIC) -> list[tuple[int, int, bytes]]:
    con = duckdb.connect(str(landing_path(data_dir)), read_only=True)
    try:
        rows = con.execute(f'select kafka_partition, kafka_offset, kafka_value from wearables_msk."{topic}"').fetchall()
    finally:
        con.close()
    return [(int(p), int(o), bytes(v)) for p, o, v in rows]


def assert_landed_exactly_once(data_dir: Path, produced: list[Record], topic: str = TOPIC) -> None:
    rows = landing_rows(data_dir, topic)
    positions = [(p, o) for p, o, _ in rows]
    assert len(positions) == len(set(positions)), "an offset landed twice"
    assert len(rows) == len(produced), f"{len(produced)} produced, {len(rows)} landed"
    assert Counter(v for _, _, v in rows) == Counter(r.value for r in produced)
    # offsets per partition are contiguous from 0: nothing skipped
    per_partition: dict[int, list[int]] = {}
    for partition, offset in positions:
        per_partition.setdefault(partition, []).append(offset)
    for offsets in per_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))


def run_dbt(data_dir: Path, *args: str) -> str:
    result = conftest.run_dbt(data_dir, *args)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def warehouse(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def model_snapshot(data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "events": warehouse(
            data_dir,
            "select event_id, patient_id, device_id, event_time, steps_increment, "
            "heart_rate, kafka_partition, kafka_offset from main_staging.stg_wearables__events "
            "order by event_id",
        ),
        "quarantine": warehouse(
            data_dir,
            "select source_view, kafka_partition, kafka_offset, event_id, "
            "rejection_reason from main_staging.stg_wearables__quarantine order by 2, 3",
        ),
        "minutes": warehouse(
            data_dir,
            "select patient_id, minute_at, event_count, round(avg_heart_rate, 6), "
            "steps, is_active_minute from main_intermediate.int_wearable_minutes_aggregated "
            "order by 1, 2",
        ),
        "daily": warehouse(
            data_dir,
            "select patient_id, activity_date, active_minutes, minutes_with_data, steps, "
            "round(resting_heart_rate, 6), max_heart_rate from "
            "main_marts.fct_wearable_daily_activity order by 1, 2",
        ),
    }


def check_models_against_oracle(data_dir: Path) -> None:
    expected_events, expected_rejected = expected_outcome(landing_rows(data_dir))
    # an empty landing would make every comparison below trivially equal
    assert expected_events and expected_rejected, "nothing landed in the topic the dbt sources read"
    snapshot = model_snapshot(data_dir)
    got_events = {row[0]: row for row in snapshot["events"]}
    assert set(got_events) == set(expected_events)
    for event_id, event in expected_events.items():
        row = got_events[event_id]
        assert (row[1], row[2], row[4], row[5]) == (
            event["patient_id"],
            event["device_id"],
            event["steps_increment"],
            event["heart_rate"],
        )
        assert row[3].isoformat(timespec="milliseconds") + "Z" == event["event_time"]
        assert (row[6], row[7]) == (event["kafka_partition"], event["kafka_offset"]), "first occurrence wins"
    got_rejected = {(row[1], row[2]): row[4] for row in snapshot["quarantine"]}
    assert got_rejected == expected_rejected
    expected_days = expected_daily_activity(expected_events)
    got_days = {(row[0], row[1].isoformat()): row for row in snapshot["daily"]}
    assert set(got_days) == set(expected_days)
    for key, day in expected_days.items():
        row = got_days[key]
        assert (row[2], row[3], row[4]) == (day["active_minutes"], day["minutes_with_data"], day["steps"]), key
        if day["resting_heart_rate"] is None:
            assert row[5] is None
        else:
            assert row[5] == pytest.approx(day["resting_heart_rate"], abs=1e-6)


def test_end_to_end_nothing_lost_nothing_doubled(broker: LocalBroker, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    ensure_topic(broker.bootstrap_servers, TOPIC, partitions=3)

    # Round 1: three hours of six devices, with retries and malformed records.
    first_events = list(generate_events(PATIENTS, seed=11, minutes=180))
    first = list(with_faults(first_events, seed=11, duplicate_rate=0.05, malformed_rate=0.04))
    produce_records(first, bootstrap_servers=broker.bootstrap_servers, topic=TOPIC)
    report = refresh(bootstrap_servers=broker.bootstrap_servers, topic=TOPIC, data_dir=data_dir, idle_polls=4)
    assert report.landed == len(first)
    assert_landed_exactly_once(data_dir, first)
    run_dbt(data_dir, "build", "--select", "tag:wearables")
    check_models_against_oracle(data_dir)
    kinds = Counter(r.kind for r in first)
    assert warehouse(data_dir, "select count(*) from main_staging.stg_wearables__quarantine")[0][0] == sum(
        kinds[k] for k in BAD_KINDS
    )

    # Round 2 (incremental): the next hours, late retries of round-1 records, more malformed records,
    # and late events for minutes already aggregated.
    rng = random.Random(2)
    second_events = list(generate_events(PATIENTS, seed=12, start=DEFAULT_START + timedelta(minutes=170), minutes=120))
    late_retries = [Record(r.key, r.value, DUPLICATE) for r in rng.sample(first, 40) if r.kind == "event"]
    second = list(with_faults(second_events, seed=12, duplicate_rate=0.05, malformed_rate=0.04)) + late_retries
    second += [Record(b"odd", value, "odd") for value in ODD_RECORDS]
    produce_records(second, bootstrap_servers=broker.bootstrap_servers, topic=TOPIC)
    report = refresh(bootstrap_servers=broker.bootstrap_servers, topic=TOPIC, data_dir=data_dir, idle_polls=4)
    assert report.landed == len(second)
    assert_landed_exactly_once(data_dir, first + second)
    run_dbt(data_dir, "build", "--select", "tag:wearables")
    check_models_against_oracle(data_dir)
    reasons = {r[0] for r in warehouse(data_dir, "select rejection_reason from main_staging.stg_wearables__quarantine")}
    assert len(reasons) == 8, reasons  # every reason was exercised
    incremental = model_snapshot(data_dir)

    # A third refresh with nothing new lands nothing; incremental results equal a full rebuild.
    assert refresh(bootstrap_servers=broker.bootstrap_servers, topic=TOPIC, data_dir=data_dir).landed == 0
    run_dbt(data_dir, "run", "--select", "tag:wearables", "--full-refresh")
    assert model_snapshot(data_dir) == incremental


def ingestor(
    topic: str, data_dir: Path, bootstrap: str, mode: str, *extra: str, fault: str | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "P360_DATA_DIR": str(data_dir)}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.zero_etl.stream_landing",
            mode,
            "--topic",
            topic,
            "--bootstrap-servers",
            bootstrap,
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        # a file, not a pipe: an unread pipe could fill up and stall the ingestor
        stderr=(data_dir / f"ingestor-{topic}.log").open("ab"),
    )


def produce_for_crash_test(broker: LocalBroker, topic: str, minutes: int) -> list[Record]:
    ensure_topic(broker.bootstrap_servers, topic, partitions=3)
    records = list(
        with_faults(
            generate_events(PATIENTS, seed=21, minutes=minutes),
            seed=21,
            duplicate_rate=0.03,
            malformed_rate=0.03,
        )
    )
    produce_records(records, bootstrap_servers=broker.bootstrap_servers, topic=topic)
    return records


def test_killed_mid_batch_then_restarted_loses_and_duplicates_nothing(broker: LocalBroker, tmp_path: Path) -> None:
    topic = "wearables_crash_mid_batch"
    produced = produce_for_crash_test(broker, topic, minutes=500)
    # Killed (SIGKILL) after batch 3's rows are inserted, before its transaction commits.
    crashed = ingestor(
        topic,
        tmp_path,
        broker.bootstrap_servers,
        "refresh",
        "--max-batch-records",
        "500",
        fault="kill_before_commit:3",
    )
    assert crashed.wait(timeout=120) == -signal.SIGKILL
    rows = landing_rows(tmp_path, topic)
    assert len(rows) == 1000, "exactly the two committed batches survive"
    con = duckdb.connect(str(landing_path(tmp_path)), read_only=True)
    stored = con.execute("select sum(next_offset) from stream_ingestion.consumer_offsets").fetchone()[0]
    con.close()
    assert stored == len(rows), "the offsets moved with the rows, not more, not less"

    restarted = ingestor(topic, tmp_path, broker.bootstrap_servers, "refresh", "--max-batch-records", "500")
    assert restarted.wait(timeout=120) == 0, (tmp_path / f"ingestor-{topic}.log").read_text()[-3000:]
    assert_landed_exactly_once(tmp_path, produced, topic)


def test_killed_at_random_moments_while_following(broker: LocalBroker, tmp_path: Path) -> None:
    topic = "wearables_crash_random"
    produced = produce_for_crash_test(broker, topic, minutes=1000)
    rng = random.Random(99)
    landed_after_kill = []
    for _ in range(4):
        follower = ingestor(topic, tmp_path, broker.bootstrap_servers, "follow", "--max-batch-records", "40")
        time.sleep(rng.uniform(0.8, 1.6))
        follower.kill()
        follower.wait(timeout=30)
        landed_after_kill.append(len(landing_rows(tmp_path, topic)) if landing_path(tmp_path).exists() else 0)
    print("landed after each kill:", landed_after_kill, "of", len(produced))
    assert landed_after_kill[0] < len(produced), "the first kill should interrupt the ingestion"
    final = ingestor(topic, tmp_path, broker.bootstrap_servers, "refresh")
    assert final.wait(timeout=120) == 0
    assert_landed_exactly_once(tmp_path, produced, topic)


def test_follow_mode_stops_cleanly_on_sigterm(broker: LocalBroker, tmp_path: Path) -> None:
    topic = "wearables_follow"
    produced = produce_for_crash_test(broker, topic, minutes=30)
    follower = ingestor(topic, tmp_path, broker.bootstrap_servers, "follow")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if landing_path(tmp_path).exists():
            with landing_lock(tmp_path, shared=True, timeout_s=30):
                if len(landing_rows(tmp_path, topic)) == len(produced):
                    break
        time.sleep(0.2)
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(timeout=30) == 0
    assert_landed_exactly_once(tmp_path, produced, topic)


def test_unknown_broker_binary_override_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulators.zero_etl.kafka_broker as kb

    monkeypatch.setattr(kb, "tansu_binary", lambda: Path("/nonexistent/tansu"))
    with pytest.raises((BrokerError, FileNotFoundError)):
        kb.start_local_broker(timeout_s=2)


def test_ingestor_waits_for_a_running_reader_then_lands_everything(broker: LocalBroker, tmp_path: Path) -> None:
    import threading

    topic = "wearables_locked"
    produced = produce_for_crash_test(broker, topic, minutes=20)
    results: list[int] = []
    with landing_lock(tmp_path, shared=True, timeout_s=10):  # as a dbt run started by patient360 does
        worker = threading.Thread(
            target=lambda: results.append(
                refresh(bootstrap_servers=broker.bootstrap_servers, topic=topic, data_dir=tmp_path).landed
            )
        )
        worker.start()
        time.sleep(2.0)
        assert worker.is_alive() and not landing_path(tmp_path).exists(), "wrote while a reader held the lock"
    worker.join(timeout=60)
    assert results == [len(produced)]
    assert_landed_exactly_once(tmp_path, produced, topic)


def test_a_restarted_empty_broker_is_refused_not_silently_mixed(broker: LocalBroker, tmp_path: Path) -> None:
    from simulators.zero_etl.stream_landing import LandingError

    topic = "wearables_restart"
    produce_for_crash_test(broker, topic, minutes=5)
    refresh(bootstrap_servers=broker.bootstrap_servers, topic=topic, data_dir=tmp_path)
    other = start_local_broker()
    try:
        produce_for_crash_test(other, topic, minutes=5)
        with pytest.raises(LandingError, match="restarted empty"):
            refresh(bootstrap_servers=other.bootstrap_servers, topic=topic, data_dir=tmp_path)
    finally:
        other.stop()


def test_cli_simulates_wearables_and_lands_them(broker: LocalBroker, tmp_path: Path) -> None:
    from simulators.cli import main as patient360

    topic = "wearables_cli"
    common = ["--topic", topic, "--bootstrap-servers", broker.bootstrap_servers]
    assert (
        patient360(["simulate", "wearables", "--patients", "p-1", "p-2", "--minutes", "30", "--no-progress", *common])
        == 0
    )
    assert patient360(["--data-dir", str(tmp_path), "stream", "refresh", "--idle-polls", "2", *common]) == 0
    produced = list(with_faults(generate_events(["p-1", "p-2"], seed=42, minutes=30), seed=42))
    assert_landed_exactly_once(tmp_path, produced, topic)
