"""Shared by the Kinesis stream tests: a kinesalite for the module, the Kinesis landing's rows, and the check of
the wearables models against the independent oracle (the same oracle the MSK tests use)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from patient360.local_aws.streaming.kinesis import client as kinesis_client
from patient360.local_aws.streaming.kinesis.landing import KinesisRefreshReport, landing_for
from patient360.local_aws.streaming.kinesis.server import LocalKinesis, start_kinesalite
from patient360.local_aws.streaming.landing import landing_path
from simulators.wearables.faults import Record
from tests.python.support import settings_for
from tests.python.support.oracle import expected_daily_activity, expected_outcome
from tests.python.support.stream import model_snapshot, warehouse

SCHEMA = "from_kds"
KINESIS = {"P360_STREAM_KIND": "kinesis"}


def kinesalite(log_dir: Path) -> Iterator[LocalKinesis]:
    """A kinesalite for a test module; skipped with how to install it when absent."""
    cli = settings_for(log_dir).kinesis.kinesalite
    if not cli.is_file():
        pytest.skip(f"kinesalite is not installed at {cli} (P360_KINESALITE): run `make services` (needs npm)")
    local = start_kinesalite(cli, log_path=log_dir / "kinesalite.log")
    yield local
    local.stop()


def client_for(local: LocalKinesis) -> Any:
    return kinesis_client.kinesis_client(settings_for(Path(".")).kinesis, local.endpoint_url)


def land(local: LocalKinesis, data_dir: Path, stream: str, **options: Any) -> KinesisRefreshReport:
    """One REFRESH of the Kinesis landing."""
    return landing_for(client_for(local), stream, SCHEMA, data_dir, idle_sleep_s=0.05).run(**options)


def landing_rows(data_dir: Path, stream: str) -> list[tuple[str, int, bytes, Any, str]]:
    """(shard id, sequence number as a number, data, arrival, partition key) of every landed record."""
    con = duckdb.connect(str(landing_path(data_dir)), read_only=True)
    try:
        rows = con.execute(f'select shard_id, sequence_number, kinesis_data, approximate_arrival_timestamp, '
                           f'partition_key from {SCHEMA}."{stream}"').fetchall()
    finally:
        con.close()
    return [(s, int(n), bytes(v), at, key) for s, n, v, at, key in rows]


def assert_landed_exactly_once(data_dir: Path, produced: list[Record], stream: str) -> None:
    """Every produced record once (by content, counted), no position twice, partition key = the record key."""
    rows = landing_rows(data_dir, stream)
    positions = [(s, n) for s, n, *_ in rows]
    assert len(positions) == len(set(positions)), "a sequence number landed twice"
    assert len(rows) == len(produced), f"{len(produced)} produced, {len(rows)} landed"
    assert Counter(v for _, _, v, *_ in rows) == Counter(r.value for r in produced)
    assert Counter((key, v) for _, _, v, _, key in rows) == Counter(
        ((r.key or b"no-partition-key").decode(), r.value) for r in produced)


def check_models_against_oracle(data_dir: Path, stream: str) -> None:
    """Events, quarantine and daily activity equal what the oracle computes from the landed records; the first
    occurrence of a duplicated event is the lowest (shard_id, sequence_number)."""
    rows = landing_rows(data_dir, stream)
    expected_events, expected_rejected = expected_outcome([(s, n, v) for s, n, v, *_ in rows])
    assert expected_events and expected_rejected, "nothing landed in the stream the dbt sources read"
    snapshot = model_snapshot(data_dir)
    positions = {event_id: (shard, int(sequence)) for event_id, shard, sequence, from_arrival in warehouse(
        data_dir, "select event_id, shard_id, sequence_number, event_time_from_arrival "
                  "from main_staging.stg_wearables__events") if not from_arrival}
    got_events = {row[0]: row for row in snapshot["events"]}
    assert set(got_events) == set(expected_events)
    for event_id, event in expected_events.items():
        row = got_events[event_id]
        assert (row[1], row[2], row[4], row[5]) == (
            event["patient_id"], event["device_id"], event["steps_increment"], event["heart_rate"])
        assert row[3].isoformat(timespec="milliseconds") + "Z" == event["event_time"]
        assert positions[event_id] == (event["kafka_partition"], event["kafka_offset"]), "first occurrence wins"
    got_rejected = {(shard, int(sequence)): reason for shard, sequence, reason in warehouse(
        data_dir, "select shard_id, sequence_number, rejection_reason from main_staging.stg_wearables__quarantine")}
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
