"""The wearables step: device events produced to the stream, then landed like a REFRESH of the streaming view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from patient360.local_aws.streaming.kafka_client import ProduceReport, ensure_topic, produce_records
from patient360.local_aws.streaming.landing import RefreshReport, refresh, reset_topic, stored_offsets
from patient360.pipeline.endpoints import kafka_for_step
from patient360.settings import Settings
from simulators.wearables.events import generate_events
from simulators.wearables.faults import Record, event_record


@dataclass(frozen=True)
class WearablesStep:
    devices: int
    produced: int
    landed: int
    landing_reset: int | None  # rows removed when a new (empty) local broker started the landing over

    @property
    def lost(self) -> int:
        return max(0, self.produced - self.landed)

    def summary(self) -> str:
        return f"{self.produced} events produced for {self.devices} devices, {self.landed} landed"


def start_over_if_new_stream(settings: Settings) -> int | None:
    """A new local broker is an empty stream whose offsets start at 0 again: the topic's landing starts over
    (the one landing reset) and the stream's incremental models need a full refresh. Returns the rows removed,
    or None when the landing had nothing of the topic."""
    if not settings.landing_path.exists() or not stored_offsets(settings.data_dir, settings.kafka.topic):
        return None
    return reset_topic(settings.data_dir, settings.kafka.topic, settings.kafka.external_schema)


def produce(settings: Settings, bootstrap: str, records: Iterable[Record], *, total: int | None = None,
            rate: float | None = None, partitions: int = 3, show_progress: bool = False) -> ProduceReport:
    security = settings.kafka.client_config()
    ensure_topic(bootstrap, settings.kafka.topic, partitions, security=security)
    return produce_records(records, bootstrap_servers=bootstrap, topic=settings.kafka.topic, security=security,
                           rate=rate, total=total, show_progress=show_progress)


def land_once(settings: Settings, bootstrap: str, **options: float) -> RefreshReport:
    return refresh(settings.kafka, settings.data_dir, bootstrap, **options)  # type: ignore[arg-type]


def produce_and_land(
    settings: Settings, patient_ids: list[str], *, seed: int, days: int, show_progress: bool = False
) -> WearablesStep:
    """``days`` of per-minute events up to today (UTC midnight) for each device, produced to the configured
    stream (or a local broker for the step) and landed once."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = generate_events(patient_ids, seed=seed, start=today - timedelta(days=days), minutes=days * 24 * 60)
    with kafka_for_step(settings, settings.logs_dir / "tansu.log") as (bootstrap, new_stream):
        removed = start_over_if_new_stream(settings) if new_stream else None
        produced = produce(settings, bootstrap, (event_record(e) for e in events),
                           total=len(patient_ids) * days * 24 * 60, show_progress=show_progress)
        landed = land_once(settings, bootstrap)
    return WearablesStep(len(patient_ids), produced.total, landed.landed, removed)
