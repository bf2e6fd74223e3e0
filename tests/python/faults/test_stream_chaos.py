"""Stream chaos: the wearable stream under every fault at once, count in == count out.

While a producer thread sends events with producer-retry duplicates and malformed records (plus
hand-made odd records) to the real local broker, the ingestor runs in follow mode and is SIGKILLed at
random moments (12+ times), the broker is frozen with SIGSTOP for a few seconds mid-stream and thawed
with SIGCONT (never restarted: tansu keeps its data in memory only), and a dbt build runs in the middle
(incremental path). Then a final refresh and dbt build. Expected values come from the generator's own
labels, never from the pipeline:

* every produced record landed exactly once (offsets contiguous, none twice);
* stg_wearables__events == the unique valid events (by event_id, with their values);
* stg_wearables__quarantine == exactly the bad records, each with the oracle's reason;
* valid + quarantined + deduplicated retries == produced;
* the daily mart equals the plain-Python oracle.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from patient360.local_aws.streaming.broker import LocalBroker, start_local_broker
from patient360.local_aws.streaming.kafka_client import ensure_topic, make_producer, produce_records
from patient360.local_aws.streaming.landing import landing_lock, landing_path
from simulators.wearables.events import generate_events
from simulators.wearables.faults import BAD_KINDS, DUPLICATE, EVENT, Record, with_faults
from tests.python.faults.conftest import Figures
from tests.python.support import PROJECT_DIR, child_env, land
from tests.python.support.oracle import rejection_reason
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

pytestmark = [pytest.mark.slow, pytest.mark.faults]

PATIENTS = [f"chaos-{n:03d}" for n in range(8)]
KILLS = 13
STALL_SECONDS = 3.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    local = start_local_broker(log_path=tmp_path_factory.mktemp("chaos-broker") / "tansu.log")
    yield local
    if local.process.poll() is None:
        os.kill(local.process.pid, signal.SIGCONT)  # never leave it frozen
    local.stop()


def follower(data_dir: Path, bootstrap: str) -> subprocess.Popen[bytes]:
    """``patient360 ingest --follow`` as a child process, small batches (many commits to kill between)."""
    env = child_env(data_dir, KAFKA_BOOTSTRAP_SERVERS=bootstrap, P360_WEARABLES_TOPIC=TOPIC)
    return subprocess.Popen(
        [sys.executable, "-m", "patient360", "--data-dir", str(data_dir), "ingest", "--follow",
         "--max-batch-records", "60"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=(data_dir / "ingestor.log").open("ab"),
    )


def landed_count(data_dir: Path) -> int:
    if not landing_path(data_dir).exists():
        return 0
    with landing_lock(data_dir, shared=True, timeout_s=60):
        try:
            return len(landing_rows(data_dir, TOPIC))
        except Exception:  # the table is not created yet
            return 0


def test_stream_survives_kills_stalls_retries_and_bad_records(
    broker: LocalBroker, tmp_path: Path, record_figures
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    ensure_topic(broker.bootstrap_servers, TOPIC, partitions=3)
    events = list(generate_events(PATIENTS, seed=808, minutes=420))
    records = list(with_faults(events, seed=808, duplicate_rate=0.06, malformed_rate=0.05))
    rng = random.Random(808)
    for value in ODD_RECORDS:  # every rejection reason, at random places
        records.insert(rng.randrange(len(records)), Record(b"odd", value, "odd"))
    kinds = Counter(r.kind for r in records)
    assert kinds[DUPLICATE] > 50 and all(kinds[k] > 10 for k in BAD_KINDS), kinds

    # The producer sends in chunks with pauses, so the stream is live during kills and the stall.
    producer_done = threading.Event()
    producer_errors: list[BaseException] = []

    def produce() -> None:
        producer = make_producer(broker.bootstrap_servers, linger_ms=5)
        try:
            for start in range(0, len(records), 100):
                produce_records(records[start:start + 100], bootstrap_servers=broker.bootstrap_servers,
                                topic=TOPIC, producer=producer)
                time.sleep(0.3)
        except BaseException as exc:  # reported by the test
            producer_errors.append(exc)
        finally:
            producer.close()
            producer_done.set()

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()

    faults: Counter[str] = Counter()
    landed_after_kill: list[int] = []
    stall_at = rng.randrange(3, 8)
    midway_build_at = rng.randrange(8, KILLS)
    deadline = time.monotonic() + 150
    for kill in range(KILLS):
        assert time.monotonic() < deadline, "the chaos loop overran its time budget"
        process = follower(data_dir, broker.bootstrap_servers)
        time.sleep(rng.uniform(0.4, 1.8))
        if kill == stall_at:
            # Freeze the broker mid-stream (producer and ingestor both talking to it), then thaw it.
            os.kill(broker.process.pid, signal.SIGSTOP)
            faults["broker_sigstop"] += 1
            try:
                time.sleep(STALL_SECONDS)
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            time.sleep(rng.uniform(0.2, 1.0))
        process.kill()  # SIGKILL, wherever it is: polling, writing a batch, committing
        process.wait(timeout=30)
        faults["ingestor_sigkill"] += 1
        landed_after_kill.append(landed_count(data_dir))
        if kill == midway_build_at:
            # dbt reads the landing file while the stream goes on (the incremental path under chaos)
            dbt_ok(data_dir, "build", "--select", "tag:wearables")
            faults["dbt_build_mid_stream"] += 1
    thread.join(timeout=120)
    assert producer_done.is_set() and not producer_errors, producer_errors
    print("landed after each kill:", landed_after_kill, "of", len(records))
    assert landed_after_kill[0] < len(records), "the first kill should interrupt the ingestion"
    mid_stream = sum(0 < n < len(records) for n in landed_after_kill)
    assert mid_stream >= 3, f"only {mid_stream} kill(s) came mid-stream"

    final = land(broker.bootstrap_servers, data_dir, topic=TOPIC, idle_polls=4)
    assert landed_count(data_dir) == len(records), f"{final.landed} landed by the final refresh"
    assert_landed_exactly_once(data_dir, records, TOPIC)
    dbt_ok(data_dir, "build", "--select", "tag:wearables")
    check_models_against_oracle(data_dir)

    # Against the generator's own labels (not the landing table): exactly the unique valid events...
    got_events = Counter(
        r[0] for r in warehouse(data_dir, "select event_id from main_staging.stg_wearables__events")
    )
    expected_ids = {e.event_id for e in events} | {
        json.loads(r.value)["event_id"] for r in records if r.kind == "odd" and rejection_reason(r.value) is None
    }
    lost = len(expected_ids - set(got_events))
    duplicated = sum(n - 1 for n in got_events.values() if n > 1) + len(set(got_events) - expected_ids)
    assert lost == 0 and duplicated == 0, (lost, duplicated)
    # ... and the quarantine holds exactly the bad records, by position and value.
    by_position = {(p, o): v for p, o, v in landing_rows(data_dir, TOPIC)}
    quarantined = warehouse(
        data_dir, "select kafka_partition, kafka_offset, rejection_reason from main_staging.stg_wearables__quarantine"
    )
    assert len(quarantined) == len({(p, o) for p, o, _ in quarantined}), "a bad record quarantined twice"
    bad_values = Counter(r.value for r in records if r.kind in BAD_KINDS or (
        r.kind == "odd" and rejection_reason(r.value) is not None))
    assert Counter(by_position[(p, o)] for p, o, _ in quarantined) == bad_values
    assert all(reason == rejection_reason(by_position[(p, o)]) for p, o, reason in quarantined)
    assert {reason for _, _, reason in quarantined} >= set(BAD_KINDS)
    # count in == count out
    deduplicated = len(records) - len(quarantined) - len(got_events)
    assert deduplicated == kinds[DUPLICATE], "only producer retries may be dropped as duplicates"
    assert len(got_events) + len(quarantined) + kinds[DUPLICATE] == len(records)
    assert kinds[EVENT] == len(events)
    odd_valid = sum(1 for r in records if r.kind == "odd" and rejection_reason(r.value) is None)
    assert len(got_events) == len(events) + odd_valid

    # the incremental path (a build mid-stream, then one at the end) equals a full rebuild
    incremental = model_snapshot(data_dir)
    dbt_ok(data_dir, "run", "--select", "tag:wearables", "--full-refresh")
    assert model_snapshot(data_dir) == incremental, "full refresh differs from the incremental path"

    record_figures(Figures(
        area="stream", test="stream chaos (kills, broker stall, retries, bad records)",
        faults_injected={**faults, "producer_retry_duplicates": kinds[DUPLICATE],
                         "malformed_records": sum(bad_values.values())},
        records_in=len(records), records_checked=len(got_events) + len(quarantined) + kinds[DUPLICATE],
        lost=lost, duplicated=duplicated,
        notes=(f"{mid_stream} kills mid-stream, {len(got_events)} events, {len(quarantined)} quarantined, "
               f"{kinds[DUPLICATE]} retries deduplicated"),
    ))
