"""What a real stream carries besides good events: producer-retry duplicates and malformed records.

Each record is labelled with its ``kind`` so tests and benchmarks know what went in; the pipeline
itself never sees the labels.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from simulators.wearables.events import WearableEvent

EVENT = "event"
DUPLICATE = "duplicate"
NOT_JSON = "not_json"
MISSING_PATIENT_ID = "missing_patient_id"
HEART_RATE_OUT_OF_RANGE = "heart_rate_out_of_range"
BAD_KINDS = (NOT_JSON, MISSING_PATIENT_ID, HEART_RATE_OUT_OF_RANGE)


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    kind: str


def event_record(event: WearableEvent) -> Record:
    return Record(key=event.patient_id.encode(), value=event.to_json(), kind=EVENT)


def malformed_record(event: WearableEvent, kind: str, rng: random.Random) -> Record:
    body = event.as_dict()
    body["event_id"] = f"{str(body['event_id'])[:-4]}bad{rng.randint(0, 9)}"
    if kind == NOT_JSON:
        text = json.dumps(body, separators=(",", ":")).encode()
        # A proper prefix of a JSON object is never valid JSON; sometimes not even UTF-8.
        value = text[: rng.randint(1, len(text) - 1)] if rng.random() < 0.7 else b"\xff\xfe" + text[:10]
    elif kind == MISSING_PATIENT_ID:
        if rng.random() < 0.5:
            del body["patient_id"]
        else:
            body["patient_id"] = rng.choice([None, ""])
        value = json.dumps(body).encode()
    elif kind == HEART_RATE_OUT_OF_RANGE:
        body["heart_rate"] = rng.choice([0, -1, 7, 300, 999])
        value = json.dumps(body).encode()
    else:
        raise ValueError(f"unknown malformed record kind {kind!r}")
    return Record(key=event.patient_id.encode(), value=value, kind=kind)


def with_faults(
    events: Iterable[WearableEvent], *, seed: int, duplicate_rate: float = 0.0, malformed_rate: float = 0.0
) -> Iterator[Record]:
    """Every event once, plus (seeded) late duplicates of some and extra malformed records."""
    for name, rate in (("duplicate_rate", duplicate_rate), ("malformed_rate", malformed_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")
    rng = random.Random(f"p360-wearables-faults|{seed}")
    pending: deque[tuple[int, Record]] = deque()
    for position, event in enumerate(events, start=1):
        record = event_record(event)
        yield record
        if rng.random() < duplicate_rate:
            # A retried send lands a little later in the same partition (same key).
            pending.append((position + rng.randint(0, 25), Record(record.key, record.value, DUPLICATE)))
        if rng.random() < malformed_rate:
            yield malformed_record(event, rng.choice(BAD_KINDS), rng)
        while pending and pending[0][0] <= position:
            yield pending.popleft()[1]
    while pending:
        yield pending.popleft()[1]
