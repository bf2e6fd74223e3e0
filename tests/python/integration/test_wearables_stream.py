"""End to end with the real local broker: produce -> land -> dbt, and crashes of the ingestor.

N records go in (events, producer-retry duplicates, malformed records); the landing table must hold
each offset exactly once, the events model exactly the unique valid events, the quarantine exactly
the bad records, the daily activity what plain Python computes from the events.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.streaming.broker import BrokerError, LocalBroker, start_local_broker
from patient360.local_aws.streaming.kafka_client import ensure_topic, produce_records
from patient360.local_aws.streaming.landing import landing_lock, landing_path
from simulators.wearables.events import DEFAULT_START, generate_events
from simulators.wearables.faults import BAD_KINDS, DUPLICATE, Record, with_faults
from tests.python.support import PROJECT_DIR, child_env, land, run_cli
from tests.python.support.stream import (
    ODD_RECORDS,
    TOPIC,
    assert_landed_exactly_once,
    check_models_against_oracle,
    dbt_ok,
    landing_rows,
    model_snapshot,
    warehouse,
)

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PATIENTS = [f"patient-{n:03d}" for n in range(6)]
@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    local = start_local_broker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
    yield local
    local.stop()


def test_end_to_end_nothing_lost_nothing_doubled(broker: LocalBroker, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    ensure_topic(broker.bootstrap_servers, TOPIC, partitions=3)

    # Round 1: three hours of six devices, with retries and malformed records.
    first_events = list(generate_events(PATIENTS, seed=11, minutes=180))
    first = list(with_faults(first_events, seed=11, duplicate_rate=0.05, malformed_rate=0.04))
    produce_records(first, bootstrap_servers=broker.bootstrap_servers, topic=TOPIC)
    report = land(broker.bootstrap_servers, data_dir, topic=TOPIC, idle_polls=4)
    assert report.landed == len(first)
    assert_landed_exactly_once(data_dir, first)
    dbt_ok(data_dir, "build", "--select", "tag:wearables")
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
    report = land(broker.bootstrap_servers, data_dir, topic=TOPIC, idle_polls=4)
    assert report.landed == len(second)
    assert_landed_exactly_once(data_dir, first + second)
    dbt_ok(data_dir, "build", "--select", "tag:wearables")
    check_models_against_oracle(data_dir)
    reasons = {r[0] for r in warehouse(data_dir, "select rejection_reason from main_staging.stg_wearables__quarantine")}
    assert len(reasons) == 8, reasons  # every reason was exercised
    incremental = model_snapshot(data_dir)

    # A third refresh with nothing new lands nothing; incremental results equal a full rebuild.
    assert land(broker.bootstrap_servers, data_dir, topic=TOPIC).landed == 0
    dbt_ok(data_dir, "run", "--select", "tag:wearables", "--full-refresh")
    assert model_snapshot(data_dir) == incremental


def ingestor(
    topic: str, data_dir: Path, bootstrap: str, mode: str, *extra: str, fault: str | None = None
) -> subprocess.Popen[bytes]:
    """``patient360 ingest`` as a child process (``mode``: refresh = once, follow), optionally with a fault."""
    env = child_env(data_dir, KAFKA_BOOTSTRAP_SERVERS=bootstrap, P360_WEARABLES_TOPIC=topic,
                    P360_STREAM_LANDING_FAULT=fault or "")
    command = [sys.executable, "-m", "patient360", "--data-dir", str(data_dir), "ingest",
               "--follow" if mode == "follow" else "--once", *extra]
    return subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL,
                            stderr=(data_dir / "ingestor.log").open("ab"))


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
    import patient360.local_aws.streaming.broker as kb

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
                land(broker.bootstrap_servers, tmp_path, topic=topic).landed
            )
        )
        worker.start()
        time.sleep(2.0)
        assert worker.is_alive() and not landing_path(tmp_path).exists(), "wrote while a reader held the lock"
    worker.join(timeout=60)
    assert results == [len(produced)]
    assert_landed_exactly_once(tmp_path, produced, topic)


def test_a_restarted_empty_broker_is_refused_not_silently_mixed(broker: LocalBroker, tmp_path: Path) -> None:
    from patient360.local_aws.streaming.landing import LandingError

    topic = "wearables_restart"
    produce_for_crash_test(broker, topic, minutes=5)
    land(broker.bootstrap_servers, tmp_path, topic=topic)
    other = start_local_broker()
    try:
        produce_for_crash_test(other, topic, minutes=5)
        with pytest.raises(LandingError, match="restarted empty"):
            land(other.bootstrap_servers, tmp_path, topic=topic)
    finally:
        other.stop()


def test_cli_simulates_wearables_and_lands_them(broker: LocalBroker, tmp_path: Path) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "P360_WEARABLES_TOPIC": "wearables_cli"}
    simulated = run_cli(tmp_path, "simulate", "wearables", "--patients", "p-1", "p-2", "--minutes", "30", **env)
    assert simulated.returncode == 0, simulated.stderr
    landed = run_cli(tmp_path, "ingest", "--idle-polls", "2", **env)
    assert landed.returncode == 0, landed.stderr
    produced = list(with_faults(generate_events(["p-1", "p-2"], seed=42, minutes=30), seed=42))
    assert_landed_exactly_once(tmp_path, produced, "wearables_cli")
