"""End to end on Kinesis (kinesalite, the local Kinesis Data Streams): produce with put_records -> land -> dbt
with P360_STREAM_KIND=kinesis, a reshard between two rounds. The models must equal the same independent oracle
the MSK test uses; the reference solution's thin payload must give the reference analysis' active minutes
(by arrival time)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from patient360.local_aws.streaming.kinesis import client as kinesis_client
from patient360.local_aws.streaming.kinesis.server import LocalKinesis
from simulators.wearables.events import DEFAULT_START, generate_events
from simulators.wearables.faults import BAD_KINDS, Record, with_faults
from simulators.wearables.reference_payload import reference_record
from tests.python.support import run_dbt
from tests.python.support.kinesis import (
    KINESIS,
    assert_landed_exactly_once,
    check_models_against_oracle,
    client_for,
    kinesalite,
    land,
    landing_rows,
)
from tests.python.support.stream import ODD_RECORDS, warehouse

pytestmark = pytest.mark.slow

PATIENTS = [f"patient-{n:03d}" for n in range(6)]
ACTIVE_ABOVE_BPM = 80  # the reference analysis: a minute is active when its average heart rate is above 80


@pytest.fixture(scope="module")
def local_kinesis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKinesis]:
    yield from kinesalite(tmp_path_factory.mktemp("kinesalite"))


def dbt_ok(data_dir: Path, *args: str) -> str:
    result = run_dbt(data_dir, *args, **KINESIS)
    assert result.returncode == 0, result.stdout[-4000:]
    return result.stdout


def test_kinesis_end_to_end_equals_the_oracle_across_a_reshard(local_kinesis: LocalKinesis, tmp_path: Path) -> None:
    stream, client = "wearables_e2e", client_for(local_kinesis)
    kinesis_client.ensure_stream(client, stream, shards=2)
    first = list(with_faults(generate_events(PATIENTS, seed=11, minutes=180), seed=11, duplicate_rate=0.05,
                             malformed_rate=0.04))
    report = kinesis_client.produce_records(first, client=client, stream=stream)
    assert report.calls >= len(first) // 500  # batches of up to 500 records
    assert land(local_kinesis, tmp_path, stream).landed == len(first)
    dbt_ok(tmp_path, "build", "--select", "tag:wearables", "--vars", f"{{wearables_kinesis_stream: {stream}}}")
    check_models_against_oracle(tmp_path, stream)

    # A reshard, then more records (late retries of round 1 included) and every odd record: the parent shard is
    # read to its end before its children; the incremental build still equals the oracle and a full rebuild.
    parent, children = kinesis_client.split_widest_shard(client, stream)
    assert len(children) == 2
    late = [Record(r.key, r.value, "duplicate") for r in first[:400:10] if r.kind == "event"]
    second = list(with_faults(generate_events(PATIENTS, seed=12, start=DEFAULT_START + timedelta(minutes=170),
                                              minutes=120), seed=12, duplicate_rate=0.05, malformed_rate=0.04))
    second += late + [Record(b"odd", value, "odd") for value in ODD_RECORDS]
    kinesis_client.produce_records(second, client=client, stream=stream)
    report2 = land(local_kinesis, tmp_path, stream)
    assert report2.landed == len(second) and parent in report2.finished_shards
    assert_landed_exactly_once(tmp_path, first + second, stream)
    assert {s for s, *_ in landing_rows(tmp_path, stream)} >= set(children), "the children were read too"
    dbt_ok(tmp_path, "build", "--select", "tag:wearables", "--vars", f"{{wearables_kinesis_stream: {stream}}}")
    check_models_against_oracle(tmp_path, stream)
    reasons = {r[0] for r in warehouse(tmp_path, "select rejection_reason from main_staging.stg_wearables__quarantine")}
    assert len(reasons) == 8, reasons
    assert warehouse(tmp_path, "select count(*) from main_staging.stg_wearables__quarantine")[0][0] == sum(
        1 for r in first + second if r.kind in BAD_KINDS) + len(ODD_RECORDS) - 2  # all odd ones but two usable
    # (incremental == full rebuild is proven for the same downstream models by the MSK test; not repeated here)


def reference_active_minutes(rows: list[tuple[str, int, bytes, object, str]]) -> dict[tuple[str, str], list[int]]:
    """The reference solution's analysis in plain Python: per patient and arrival minute, the average heart rate
    (active above 80); per day [active minutes, minutes with data, steps]."""
    minutes: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for _, _, data, arrival, _ in rows:
        body = json.loads(data)
        minutes[(body["patient_id"], arrival.isoformat()[:16])].append(body)  # type: ignore[attr-defined]
    days: dict[tuple[str, str], list[int]] = {}
    for (patient, minute), items in minutes.items():
        day = days.setdefault((patient, minute[:10]), [0, 0, 0])
        average = sum(int(i["heart_rate"]) for i in items) / len(items)  # type: ignore[call-overload]
        day[0] += average > ACTIVE_ABOVE_BPM
        day[1] += 1
        day[2] += sum(int(i["steps_increment"]) for i in items)  # type: ignore[call-overload]
    return days


def test_reference_payload_gives_the_reference_active_minutes(local_kinesis: LocalKinesis, tmp_path: Path) -> None:
    stream, client = "wearables_reference", client_for(local_kinesis)
    kinesis_client.ensure_stream(client, stream, shards=2)
    # Everything arrives within a minute or two, so per patient the arrival minute averages all its readings:
    # half the patients send only their raised readings, half only their calm ones (active and inactive minutes).
    events = generate_events(PATIENTS, seed=5, start=DEFAULT_START + timedelta(hours=9), minutes=240)
    raised = set(PATIENTS[::2])
    records = [reference_record(e) for e in events if (e.heart_rate > ACTIVE_ABOVE_BPM) == (e.patient_id in raised)]
    assert json.loads(records[0].value).keys() == {"patient_id", "steps_increment", "heart_rate"}
    assert isinstance(json.loads(records[0].value)["steps_increment"], str)
    kinesis_client.produce_records(records, client=client, stream=stream)
    assert land(local_kinesis, tmp_path, stream).landed == len(records)
    dbt_ok(tmp_path, "build", "--select", "tag:wearables", "--vars", f"{{wearables_kinesis_stream: {stream}}}")

    flagged = warehouse(tmp_path, "select event_time_from_arrival, count(*), sum(case when event_time = arrived_at "
                                  "then 1 else 0 end) from main_staging.stg_wearables__events group by 1")
    assert flagged == [(True, len(records), len(records))], "every thin event timed by arrival, and flagged"
    expected = reference_active_minutes(landing_rows(tmp_path, stream))
    got = {(p, d.isoformat()): [a, m, s] for p, d, a, m, s in warehouse(
        tmp_path, "select patient_id, activity_date, active_minutes, minutes_with_data, steps "
                  "from main_marts.fct_wearable_daily_activity")}
    assert got == expected
    assert sum(day[0] for day in expected.values()) > 0, "some minute must be active for the test to mean something"
