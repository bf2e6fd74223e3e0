"""The wearables step: device events produced to the stream (MSK or Kinesis, by P360_STREAM_KIND), then landed
like a REFRESH of the streaming view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from patient360.local_aws.streaming.kafka_client import ProduceReport, ensure_topic, produce_records
from patient360.local_aws.streaming.kinesis import client as kinesis_client
from patient360.local_aws.streaming.kinesis import landing as kinesis_landing
from patient360.local_aws.streaming.landing import RefreshReport, refresh, reset_topic, stored_offsets
from patient360.pipeline.endpoints import StreamEndpoint, stream_for_step
from patient360.settings import Settings
from simulators.wearables.events import generate_events
from simulators.wearables.faults import Record, event_record


@dataclass(frozen=True)
class WearablesStep:
    devices: int
    produced: int
    landed: int
    landing_reset: int | None  # rows removed when a new (empty) local stream started the landing over

    @property
    def lost(self) -> int:
        return max(0, self.produced - self.landed)

    def summary(self) -> str:
        return f"{self.produced} events produced for {self.devices} devices, {self.landed} landed"


def start_over_if_new_stream(settings: Settings) -> int | None:
    """A new local broker or kinesalite is an empty stream whose positions start again: the stream's landing
    starts over (the one landing reset per kind) and the stream's incremental models need a full refresh. Returns
    the rows removed, or None when the landing had nothing of the stream."""
    if not settings.landing_path.exists():
        return None
    if settings.stream_kind == "kinesis":
        if not kinesis_landing.stored_checkpoints(settings.data_dir, settings.kinesis.stream):
            return None
        return kinesis_landing.reset_stream(settings.data_dir, settings.kinesis.stream,
                                            settings.kinesis.external_schema)
    if not stored_offsets(settings.data_dir, settings.kafka.topic):
        return None
    return reset_topic(settings.data_dir, settings.kafka.topic, settings.kafka.external_schema)


def kinesis_client_for(settings: Settings, stream: StreamEndpoint) -> Any:
    return kinesis_client.kinesis_client(settings.kinesis, stream.address)


def ensure_stream(settings: Settings, stream: StreamEndpoint, partitions: int = 3) -> None:
    """Create the topic or the Kinesis stream if missing (``partitions`` partitions or shards)."""
    if stream.kind == "kinesis":
        kinesis_client.ensure_stream(kinesis_client_for(settings, stream), settings.kinesis.stream, partitions)
    else:
        ensure_topic(str(stream.address), settings.kafka.topic, partitions, security=settings.kafka.client_config())


def produce(settings: Settings, stream: StreamEndpoint, records: Iterable[Record], *, total: int | None = None,
            rate: float | None = None, partitions: int = 3, show_progress: bool = False
            ) -> ProduceReport | kinesis_client.KinesisProduceReport:
    ensure_stream(settings, stream, partitions)
    if stream.kind == "kinesis":
        return kinesis_client.produce_records(records, client=kinesis_client_for(settings, stream),
                                              stream=settings.kinesis.stream, rate=rate, total=total,
                                              show_progress=show_progress)
    return produce_records(records, bootstrap_servers=str(stream.address), topic=settings.kafka.topic,
                           security=settings.kafka.client_config(), rate=rate, total=total,
                           show_progress=show_progress)


def kinesis_landing_for(settings: Settings, stream: StreamEndpoint, **options: Any) -> kinesis_landing.KinesisLanding:
    return kinesis_landing.landing_for(kinesis_client_for(settings, stream), settings.kinesis.stream,
                                       settings.kinesis.external_schema, settings.data_dir, **options)


def land_once(settings: Settings, stream: StreamEndpoint, **options: Any
              ) -> RefreshReport | kinesis_landing.KinesisRefreshReport:
    if stream.kind == "kinesis":
        return kinesis_landing_for(settings, stream, fault=settings.landing_fault).run(
            idle_polls=int(options.get("idle_polls", 3)), max_seconds=options.get("max_seconds"))
    return refresh(settings.kafka, settings.data_dir, str(stream.address), **options)


def landed_records(settings: Settings) -> int:
    """Records of the configured stream landed so far (from the positions stored with the rows)."""
    if settings.stream_kind == "kinesis":
        return kinesis_landing.landed_count(settings.data_dir, settings.kinesis.stream,
                                            settings.kinesis.external_schema)
    return sum(next_offset for next_offset, _ in stored_offsets(settings.data_dir, settings.kafka.topic).values())


def produce_and_land(
    settings: Settings, patient_ids: list[str], *, seed: int, days: int, show_progress: bool = False
) -> WearablesStep:
    """``days`` of per-minute events up to today (UTC midnight) for each device, produced to the configured
    stream (or a local one for the step) and landed once."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = generate_events(patient_ids, seed=seed, start=today - timedelta(days=days), minutes=days * 24 * 60)
    with stream_for_step(settings, settings.logs_dir) as stream:
        removed = start_over_if_new_stream(settings) if stream.new_stream else None
        produced = produce(settings, stream, (event_record(e) for e in events),
                           total=len(patient_ids) * days * 24 * 60, show_progress=show_progress)
        landed = land_once(settings, stream)
    return WearablesStep(len(patient_ids), produced.total, landed.landed, removed)
