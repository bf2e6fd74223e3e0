"""Kafka client side of the wearable stream (MSK, or the local broker): topic creation and a batched producer.

Security options (MSK: SASL_SSL + AWS_MSK_IAM, or TLS) come from ``KafkaSettings.client_config()``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from patient360.console import progress_bar
from simulators.wearables.faults import Record

HEADERS = [("producer", b"patient360-wearables-simulator"), ("schema", b"wearable-event/v1")]


def ensure_topic(
    bootstrap_servers: str, topic: str, partitions: int = 3, timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Create the topic if it does not exist (MSK clusters may forbid auto-creation)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(timeout_s * 1000),
        **(security or {}),
    )
    try:
        if topic in admin.list_topics():
            return
        try:
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            return
    finally:
        admin.close()


@dataclass
class ProduceReport:
    topic: str
    sent: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def events_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.sent.items()))
        rate = f"{self.events_per_second:,.0f}/s"
        return f"{self.total} records to {self.topic} in {self.seconds:.2f}s ({rate}): {kinds}"


def make_producer(bootstrap_servers: str, security: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
    from kafka import KafkaProducer

    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "retries": 5,
        # Throughput: fill large batches, wait a little for them, many in flight.
        "linger_ms": 25,
        "batch_size": 512 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "compression_type": "gzip",
        **(security or {}),
    }
    config.update(overrides)
    return KafkaProducer(**config)


def produce_records(
    records: Iterable[Record],
    *,
    bootstrap_servers: str,
    topic: str,
    security: Mapping[str, Any] | None = None,
    rate: float | None = None,
    total: int | None = None,
    show_progress: bool = False,
    producer: Any = None,
) -> ProduceReport:
    """Send records (key = patient id, so a device's events stay in order in one partition)."""
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive (events per second), got {rate}")
    own_producer = producer is None
    producer = producer or make_producer(bootstrap_servers, security)
    report = ProduceReport(topic=topic)
    failures: list[BaseException] = []
    started = time.monotonic()
    try:
        with progress_bar(show_progress) as progress:
            task = progress.add_task(f"producing to {topic}", total=total)
            for record in records:
                future = producer.send(topic, key=record.key, value=record.value, headers=HEADERS)
                future.add_errback(failures.append)
                report.sent[record.kind] += 1
                progress.advance(task)
                if rate is not None:
                    ahead = report.total / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            producer.flush()
    finally:
        if own_producer:
            producer.close()
    report.seconds = time.monotonic() - started
    if failures:
        raise RuntimeError(f"{len(failures)} record(s) could not be produced to {topic}: {failures[0]!r}")
    return report
