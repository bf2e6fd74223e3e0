"""The reference solution's thin payload (records sent with the Kinesis Data Generator):
``{"patient_id": "...", "steps_increment": "12", "heart_rate": 91}``: steps as a string, no event id, no event
time (its analysis counts active minutes by arrival time)."""

from __future__ import annotations

import json

from simulators.wearables.events import WearableEvent
from simulators.wearables.faults import EVENT, Record


def reference_record(event: WearableEvent) -> Record:
    body = {"patient_id": event.patient_id, "steps_increment": str(event.steps_increment),
            "heart_rate": event.heart_rate}
    return Record(key=event.patient_id.encode(), value=json.dumps(body).encode(), kind=EVENT)
