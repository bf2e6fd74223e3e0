"""Seeded wearable events with daily patterns: sleep, rest, and activity bursts above 80 bpm.

The input is a plain list of patient ids and a seed (so it plugs into any population). Each patient
gets one device and a profile (resting heart rate, sleep window, how often they exercise) drawn from a
generator seeded with ``seed`` and the patient id: the same seed and ids give the same events, and a
patient's events do not depend on who else is in the list.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class WearableEvent:
    patient_id: str
    device_id: str
    event_id: str
    event_time: datetime
    steps_increment: int
    heart_rate: int

    def as_dict(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "patient_id": self.patient_id,
            "device_id": self.device_id,
            "event_time": format_event_time(self.event_time),
            "steps_increment": self.steps_increment,
            "heart_rate": self.heart_rate,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), separators=(",", ":")).encode("utf-8")


def format_event_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-01-05T07:31:00.000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Profile:
    device_id: str
    resting_hr: float
    sleep_start_hour: float  # local to UTC, e.g. 22.5 = 22:30
    sleep_hours: float
    bursts_per_day: float
    burst_hr: tuple[int, int]


def patient_rng(seed: int, patient_id: str, purpose: str) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`: stable across runs and Python versions.
    return random.Random(f"p360-wearables|{seed}|{purpose}|{patient_id}")


def make_profile(seed: int, patient_id: str) -> Profile:
    rng = patient_rng(seed, patient_id, "profile")
    return Profile(
        device_id=f"dev-{uuid.UUID(int=rng.getrandbits(128), version=4).hex[:16]}",
        resting_hr=rng.uniform(52, 74),
        sleep_start_hour=rng.uniform(21.5, 24.0),
        sleep_hours=rng.uniform(6.0, 8.5),
        bursts_per_day=rng.uniform(0.5, 4.0),
        burst_hr=(rng.randint(92, 110), rng.randint(115, 165)),
    )


class DeviceState:
    """One device's heart rate and activity, advanced tick by tick."""

    def __init__(self, seed: int, patient_id: str) -> None:
        self.patient_id = patient_id
        self.profile = make_profile(seed, patient_id)
        self.rng = patient_rng(seed, patient_id, "events")
        self.heart_rate = self.profile.resting_hr + 5
        self.burst_left_s = 0.0
        self.burst_target = 0.0

    def asleep(self, moment: datetime) -> bool:
        hour = moment.hour + moment.minute / 60
        since_sleep = (hour - self.profile.sleep_start_hour) % 24
        return since_sleep < self.profile.sleep_hours

    def tick(self, moment: datetime, interval_s: int) -> WearableEvent:
        rng, profile = self.rng, self.profile
        minutes = interval_s / 60
        if self.asleep(moment):
            self.burst_left_s = 0
            target, steps_per_min = profile.resting_hr - 7, (rng.random() < 0.01) * rng.randint(5, 20)
        else:
            if self.burst_left_s <= 0 and rng.random() < profile.bursts_per_day / (16 * 60) * minutes:
                self.burst_left_s = rng.uniform(8, 50) * 60
                self.burst_target = rng.uniform(*profile.burst_hr)
            if self.burst_left_s > 0:
                self.burst_left_s -= interval_s
                target, steps_per_min = self.burst_target, rng.randint(90, 165)
            else:
                walking = rng.random() < 0.15
                target = profile.resting_hr + (rng.uniform(8, 16) if walking else rng.uniform(0, 6))
                steps_per_min = rng.randint(20, 80) if walking else (rng.random() < 0.3) * rng.randint(0, 10)
        # The heart rate follows the target within a couple of minutes, with beat-to-beat noise.
        pull = min(1.0, 0.45 * minutes)
        self.heart_rate += (target - self.heart_rate) * pull + rng.gauss(0, 1.5)
        return WearableEvent(
            patient_id=self.patient_id,
            device_id=profile.device_id,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            event_time=moment,
            steps_increment=round(steps_per_min * minutes),
            heart_rate=max(35, min(210, round(self.heart_rate))),
        )


def generate_events(
    patient_ids: Iterable[str],
    *,
    seed: int,
    start: datetime = DEFAULT_START,
    minutes: int = 60,
    interval_s: int = 60,
) -> Iterator[WearableEvent]:
    """Events for every patient's device every ``interval_s`` seconds for ``minutes``, in time order."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        raise ValueError("no patient ids given")
    if interval_s <= 0 or 60 % interval_s and interval_s % 60:
        raise ValueError(f"interval_s must divide a minute or be whole minutes, got {interval_s}")
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    devices = [DeviceState(seed, pid) for pid in ids]
    ticks = minutes * 60 // interval_s
    for tick in range(ticks):
        moment = start + timedelta(seconds=tick * interval_s)
        for device in devices:
            yield device.tick(moment, interval_s)


def event_count(patients: int, minutes: int, interval_s: int) -> int:
    return patients * (minutes * 60 // interval_s)
