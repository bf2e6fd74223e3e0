"""Kinesis chaos: while a producer sends events (with retries' duplicates and malformed records) to kinesalite
and a shard is split mid-stream, the follow-mode landing (what `patient360 ingest --follow` runs with
P360_STREAM_KIND=kinesis, in forked children) is SIGKILLed at random moments 12+ times, and the CLI ingestor
once more right before a commit (fault hook). Expected values come from what was produced:

* every produced record landed exactly once (by content, no (shard_id, sequence_number) twice);
* each shard's checkpoint is its last landed sequence number (moved with the rows, not more, not less);
* the split parent is read to its end before its children (every child row in a later refresh).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from patient360.local_aws.streaming.kinesis import client as kinesis_client
from patient360.local_aws.streaming.kinesis.landing import landed_count, landing_for, stored_checkpoints
from patient360.local_aws.streaming.kinesis.server import LocalKinesis
from patient360.settings import KinesisSettings
from simulators.wearables.events import generate_events
from simulators.wearables.faults import Record, with_faults
from tests.python.faults.conftest import Figures
from tests.python.support import PROJECT_DIR, child_env
from tests.python.support.kinesis import assert_landed_exactly_once, client_for, kinesalite, landing_rows

pytestmark = [pytest.mark.slow, pytest.mark.faults]

PATIENTS = [f"kchaos-{n:03d}" for n in range(8)]
KILLS = 12
STREAM = "wearables_kinesis_chaos"


@pytest.fixture(scope="module")
def local_kinesis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKinesis]:
    yield from kinesalite(tmp_path_factory.mktemp("kinesalite"))


def ingestor(local: LocalKinesis, data_dir: Path, *args: str, fault: str = "") -> subprocess.Popen[bytes]:
    env = child_env(data_dir, P360_STREAM_KIND="kinesis", KINESIS_ENDPOINT_URL=local.endpoint_url,
                    P360_WEARABLES_KINESIS_STREAM=STREAM, P360_STREAM_LANDING_FAULT=fault)
    return subprocess.Popen([sys.executable, "-m", "patient360", "--data-dir", str(data_dir), "ingest", *args],
                            cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL,
                            stderr=(data_dir / "ingestor.log").open("ab"))


def produce_with_a_reshard(local: LocalKinesis, records: list[Record], split: list[tuple[str, list[str]]]) -> None:
    """In chunks, a little at a time; the widest shard is split half way."""
    client = client_for(local)
    chunks = [records[i:i + 150] for i in range(0, len(records), 150)]
    for number, chunk in enumerate(chunks):
        if number == len(chunks) // 2:
            split.append(kinesis_client.split_widest_shard(client, STREAM))
        kinesis_client.produce_records(chunk, client=client, stream=STREAM)
        time.sleep(0.4)


def test_ingestor_killed_while_producing_and_resharding_loses_and_duplicates_nothing(
    local_kinesis: LocalKinesis, tmp_path: Path, record_figures
) -> None:
    kinesis_client.ensure_stream(client_for(local_kinesis), STREAM, shards=2)
    records = list(with_faults(generate_events(PATIENTS, seed=31, minutes=500), seed=31, duplicate_rate=0.03,
                               malformed_rate=0.03))
    split: list[tuple[str, list[str]]] = []
    producer = threading.Thread(target=produce_with_a_reshard, args=(local_kinesis, records, split), daemon=True)
    producer.start()

    # A kill between a batch's insert and its commit: the batch must vanish with its checkpoint.
    crashed = ingestor(local_kinesis, tmp_path, "--once", "--max-batch-records", "100", fault="kill_before_commit:2")
    assert crashed.wait(timeout=120) == -signal.SIGKILL
    rng = random.Random(7)
    landed_after_kill = []
    # Forked followers (no interpreter start-up per kill): SIGKILLed at random moments while the producer runs.
    while producer.is_alive() or len(landed_after_kill) < KILLS:
        follower = fork_context.Process(target=follow, args=(local_kinesis.endpoint_url, tmp_path))
        follower.start()
        time.sleep(rng.uniform(0.3, 1.0))
        os.kill(follower.pid, signal.SIGKILL)  # type: ignore[arg-type]
        follower.join(timeout=30)
        assert follower.exitcode == -signal.SIGKILL, "killed mid-run, not finished"
        landed_after_kill.append(landed(tmp_path))
    producer.join(timeout=120)
    assert not producer.is_alive() and split, "the producer finished and split a shard"
    assert len(landed_after_kill) >= KILLS and landed_after_kill[KILLS // 2] < len(records), "kills mid-stream"
    assert len(set(landed_after_kill)) > KILLS // 2, "most kills came after some progress"
    final = ingestor(local_kinesis, tmp_path, "--once")
    assert final.wait(timeout=120) == 0, (tmp_path / "ingestor.log").read_text()[-3000:]

    assert_landed_exactly_once(tmp_path, records, STREAM)
    rows = landing_rows(tmp_path, STREAM)
    checkpoints = stored_checkpoints(tmp_path, STREAM)
    for shard, checkpoint in checkpoints.items():
        assert int(checkpoint.sequence_number or 0) == max(n for s, n, *_ in rows if s == shard), shard
    parent, children = split[0]
    assert checkpoints[parent].finished, "the split parent was read to its end"
    refreshes = _refresh_times(tmp_path)
    assert all(min(refreshes[c]) > max(refreshes[parent]) for c in children if c in refreshes), \
        "a child shard was read before its parent was finished"
    print("landed after each kill:", landed_after_kill, "of", len(records))
    record_figures(Figures(
        area="kinesis", test="",
        faults_injected={"sigkill": len(landed_after_kill), "kill_before_commit": 1, "reshard": 1},
        records_in=len(records), records_checked=len(rows), lost=len(records) - len(rows), duplicated=0,
        notes=f"landed after each kill {landed_after_kill}",
    ))


fork_context = multiprocessing.get_context("fork")


def follow(endpoint_url: str, data_dir: Path) -> None:
    """The follow-mode landing, in a forked child (the same code `patient360 ingest --follow` runs)."""
    client = kinesis_client.kinesis_client(KinesisSettings(), endpoint_url)
    landing_for(client, STREAM, "from_kds", data_dir, max_records_per_shard=100, idle_sleep_s=0.05).run(follow=True)


def landed(data_dir: Path) -> int:
    return landed_count(data_dir, STREAM, "from_kds")  # under the landing's lock: never meets a writer


def _refresh_times(data_dir: Path) -> dict[str, list[object]]:
    import duckdb

    from patient360.local_aws.streaming.landing import landing_path

    con = duckdb.connect(str(landing_path(data_dir)), read_only=True)
    try:
        pairs = con.execute(f'select shard_id, refresh_time from from_kds."{STREAM}"').fetchall()
    finally:
        con.close()
    times: dict[str, list[object]] = {}
    for shard, at in pairs:
        times.setdefault(shard, []).append(at)
    return times
