"""An independent, plain-Python statement of what the wearable models must produce (test oracle)."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from datetime import datetime
from typing import Any

HEART_RATE_RANGE = (25, 250)
STEPS_MAX = 1000
ACTIVE_ABOVE_BPM = 80
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rejection_reason(value: bytes) -> str | None:
    try:
        body = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "not_json"
    if not isinstance(body, dict):
        return "not_a_json_object"
    for key, reason in (("patient_id", "missing_patient_id"), ("event_id", "missing_event_id")):
        if not isinstance(body.get(key), str) or not body[key].strip():
            return reason
    event_time = body.get("event_time")
    if not isinstance(event_time, str) or not ISO_UTC.match(event_time):
        return "invalid_event_time"
    try:
        datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except ValueError:
        return "invalid_event_time"
    heart_rate = body.get("heart_rate")
    if not is_number(heart_rate):
        return "missing_heart_rate"
    if not HEART_RATE_RANGE[0] <= heart_rate <= HEART_RATE_RANGE[1]:
        return "heart_rate_out_of_range"
    steps = body.get("steps_increment")
    if not is_number(steps) or steps < 0 or steps > STEPS_MAX or steps != math.floor(steps):
        return "invalid_steps_increment"
    return None


def expected_outcome(landing_rows: list[tuple[int, int, bytes]]) -> tuple[dict[str, dict[str, Any]], dict]:
    """(unique valid events by event_id with their first position, {(partition, offset): reason})."""
    events: dict[str, dict[str, Any]] = {}
    rejected: dict[tuple[int, int], str] = {}
    for partition, offset, value in sorted(landing_rows):
        reason = rejection_reason(value)
        if reason is not None:
            rejected[(partition, offset)] = reason
            continue
        body = json.loads(value)
        if body["event_id"] not in events:
            events[body["event_id"]] = {**body, "kafka_partition": partition, "kafka_offset": offset}
    return events, rejected


def percentile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def expected_daily_activity(events: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    minutes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events.values():
        minutes[(event["patient_id"], event["event_time"][:16])].append(event)
    days: dict[tuple[str, str], dict[str, Any]] = {}
    still: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (patient_id, minute), items in minutes.items():
        key = (patient_id, minute[:10])
        average = sum(e["heart_rate"] for e in items) / len(items)
        steps = sum(e["steps_increment"] for e in items)
        day = days.setdefault(key, {"active_minutes": 0, "minutes_with_data": 0, "steps": 0})
        day["minutes_with_data"] += 1
        day["active_minutes"] += average > ACTIVE_ABOVE_BPM
        day["steps"] += steps
        if steps == 0:
            still[key].append(average)
    for key, day in days.items():
        day["resting_heart_rate"] = percentile_cont(still[key], 0.1) if still[key] else None
    return days
