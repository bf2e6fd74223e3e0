"""Shared by the stream tests (integration and faults): hand-made odd records, and the checks of the landing and
the wearables models against the independent oracle."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from patient360.local_aws.streaming.landing import landing_path
from simulators.wearables.faults import Record
from tests.python.support import run_dbt
from tests.python.support.oracle import expected_daily_activity, expected_outcome

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


def dbt_ok(data_dir: Path, *args: str) -> str:
    """dbt for the stream tests: it must succeed; its output."""
    result = run_dbt(data_dir, *args)
    assert result.returncode == 0, result.stdout[-4000:]
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
