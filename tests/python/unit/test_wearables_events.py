"""The wearable event generator and fault injection: seeded, realistic, labelled truthfully."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from simulators.wearables.events import DEFAULT_START, generate_events
from simulators.wearables.faults import BAD_KINDS, DUPLICATE, EVENT, with_faults
from tests.python.support.oracle import rejection_reason

PATIENTS = [f"patient-{n}" for n in range(8)]


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = list(generate_events(PATIENTS, seed=7, minutes=90))
    again = list(generate_events(PATIENTS, seed=7, minutes=90))
    other = list(generate_events(PATIENTS, seed=8, minutes=90))
    assert first == again
    assert [e.heart_rate for e in first] != [e.heart_rate for e in other]
    assert len({e.event_id for e in first}) == len(first) == len(PATIENTS) * 90


def test_a_patients_events_do_not_depend_on_the_rest_of_the_population() -> None:
    alone = list(generate_events(["patient-3"], seed=7, minutes=120))
    together = [e for e in generate_events(PATIENTS, seed=7, minutes=120) if e.patient_id == "patient-3"]
    assert alone == together


def test_finer_interval_and_time_order() -> None:
    events = list(generate_events(PATIENTS[:2], seed=1, minutes=10, interval_s=15))
    assert len(events) == 2 * 40
    times = [e.event_time for e in events]
    assert times == sorted(times)
    assert times[-1] == DEFAULT_START + timedelta(seconds=39 * 15)


def test_daily_pattern_sleep_is_calm_and_days_have_bursts_above_80() -> None:
    events = list(generate_events(PATIENTS, seed=3, minutes=24 * 60))
    night = [e.heart_rate for e in events if 2 <= e.event_time.hour < 5]
    day = [e.heart_rate for e in events if 10 <= e.event_time.hour < 20]
    assert sum(night) / len(night) < sum(day) / len(day)
    assert max(night) <= 80
    active_patients = {e.patient_id for e in events if e.heart_rate > 80}
    assert len(active_patients) >= len(PATIENTS) // 2
    night_steps = sum(e.steps_increment for e in events if 2 <= e.event_time.hour < 5)
    day_steps = sum(e.steps_increment for e in events if 10 <= e.event_time.hour < 20)
    assert day_steps > 20 * night_steps


@pytest.mark.parametrize("bad", [[], None])
def test_no_patients_is_a_clear_error(bad: list[str] | None) -> None:
    with pytest.raises(ValueError, match="no patient ids"):
        list(generate_events(bad or [], seed=1))


def test_faults_are_labelled_truthfully() -> None:
    events = list(generate_events(PATIENTS, seed=5, minutes=300))
    records = list(with_faults(events, seed=5, duplicate_rate=0.05, malformed_rate=0.05))
    kinds = Counter(r.kind for r in records)
    assert kinds[EVENT] == len(events)
    assert kinds[DUPLICATE] > 0 and all(kinds[k] > 0 for k in BAD_KINDS)
    originals = {r.value for r in records if r.kind == EVENT}
    for record in records:
        reason = rejection_reason(record.value)
        if record.kind in (EVENT, DUPLICATE):
            assert reason is None
        else:
            assert reason == record.kind
        if record.kind == DUPLICATE:
            assert record.value in originals
    bad_ids = {
        json.loads(r.value).get("event_id") for r in records if r.kind in BAD_KINDS and r.kind != "not_json"
    }
    assert not bad_ids & {e.event_id for e in events}
    assert records == list(with_faults(events, seed=5, duplicate_rate=0.05, malformed_rate=0.05))


def test_fault_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="duplicate_rate"):
        list(with_faults([], seed=1, duplicate_rate=1.5))
