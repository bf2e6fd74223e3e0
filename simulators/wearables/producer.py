"""Produce wearable events to Kafka (topic ``wearables_stream``), batched for throughput.

    python -m simulators.wearables.producer --patients p1 p2 --minutes 120 --seed 7
    python -m simulators.wearables.producer --patient-file ids.txt --rate 500

Without ``KAFKA_BOOTSTRAP_SERVERS`` (or ``--bootstrap-servers``) nothing is produced: start the
local broker first (``python -m simulators.zero_etl.kafka_broker``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simulators.progress import progress_bar
from simulators.wearables.events import DEFAULT_START, event_count, generate_events
from simulators.wearables.faults import Record, with_faults
from simulators.zero_etl.kafka_broker import BOOTSTRAP_ENV

DEFAULT_TOPIC = "wearables_stream"
TOPIC_ENV = "P360_WEARABLES_TOPIC"
HEADERS = [("producer", b"patient360-wearables-simulator"), ("schema", b"wearable-event/v1")]


def kafka_security_config() -> dict[str, Any]:
    """Client security settings from the environment (MSK: SASL_SSL + AWS_MSK_IAM, or TLS)."""
    config: dict[str, Any] = {}
    if protocol := os.environ.get("KAFKA_SECURITY_PROTOCOL"):
        config["security_protocol"] = protocol
    if mechanism := os.environ.get("KAFKA_SASL_MECHANISM"):
        config["sasl_mechanism"] = mechanism
    return config


def default_topic() -> str:
    return os.environ.get(TOPIC_ENV, DEFAULT_TOPIC)


def ensure_topic(bootstrap_servers: str, topic: str, partitions: int = 3, timeout_s: float = 30.0) -> None:
    """Create the topic if it does not exist (MSK clusters may forbid auto-creation)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(timeout_s * 1000),
        **kafka_security_config(),
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


def make_producer(bootstrap_servers: str, **overrides: Any) -> Any:
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
        **kafka_security_config(),
    }
    config.update(overrides)
    return KafkaProducer(**config)


def produce_records(
    records: Iterable[Record],
    *,
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    rate: float | None = None,
    total: int | None = None,
    show_progress: bool = False,
    producer: Any = None,
) -> ProduceReport:
    """Send records (key = patient id, so a device's events stay in order in one partition)."""
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive (events per second), got {rate}")
    own_producer = producer is None
    producer = producer or make_producer(bootstrap_servers)
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


def read_patient_ids(path: Path) -> list[str]:
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise ValueError(f"{path} holds no patient ids (one per line expected)")
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Produce simulated wearable events to Kafka.")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--patients", nargs="+", help="patient ids")
    who.add_argument("--patient-file", type=Path, help="file with one patient id per line")
    who.add_argument("--synthetic-patients", type=int, default=10, help="use ids patient-0001.. (default 10)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=datetime.fromisoformat, default=DEFAULT_START, help="ISO 8601, UTC")
    parser.add_argument("--minutes", type=int, default=60, help="minutes of device time per patient")
    parser.add_argument("--interval-seconds", type=int, default=60, help="seconds between a device's events")
    parser.add_argument("--duplicate-rate", type=float, default=0.0)
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=None, help="records per second (default: no limit)")
    parser.add_argument("--topic", default=default_topic())
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--bootstrap-servers", default=os.environ.get(BOOTSTRAP_ENV))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if not args.bootstrap_servers:
        parser.error(f"no broker: set {BOOTSTRAP_ENV} or pass --bootstrap-servers")
    if args.patients:
        ids = args.patients
    elif args.patient_file:
        ids = read_patient_ids(args.patient_file)
    else:
        ids = [f"patient-{n:04d}" for n in range(1, args.synthetic_patients + 1)]
    start = args.start if args.start.tzinfo else args.start.replace(tzinfo=DEFAULT_START.tzinfo)
    events = generate_events(
        ids, seed=args.seed, start=start, minutes=args.minutes, interval_s=args.interval_seconds
    )
    records = with_faults(
        events, seed=args.seed, duplicate_rate=args.duplicate_rate, malformed_rate=args.malformed_rate
    )
    ensure_topic(args.bootstrap_servers, args.topic, args.partitions)
    report = produce_records(
        records,
        bootstrap_servers=args.bootstrap_servers,
        topic=args.topic,
        rate=args.rate,
        total=event_count(len(ids), args.minutes, args.interval_seconds),
        show_progress=not args.no_progress,
    )
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
