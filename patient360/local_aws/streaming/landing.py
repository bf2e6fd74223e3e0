"""Redshift streaming ingestion (MSK -> materialized view), locally: Kafka topic -> DuckDB landing table.

The landing table ``<schema>."<topic>"`` in ``$P360_DATA_DIR/stream_landing.duckdb`` has exactly the
columns a Redshift streaming view over an MSK topic exposes::

    kafka_partition, kafka_offset, kafka_timestamp_type, kafka_timestamp,
    kafka_key, kafka_value, kafka_headers, refresh_time

* ``refresh``: read what is new in every partition, land it, stop (like ``REFRESH MATERIALIZED VIEW``).
  "Nothing new" means a number of consecutive empty polls, never the broker's end offsets.
* ``follow``: keep refreshing until stopped (like ``AUTO REFRESH YES``).

Exactly once, whatever crashes: each batch's rows and the next offset of every partition it touched
are written in ONE DuckDB transaction, and on start the consumer seeks to the stored offsets. Rows at
offsets already stored are skipped inside the transaction, so even two ingestors racing cannot land a
record twice; ``(kafka_partition, kafka_offset)`` is also the table's primary key.

DuckDB allows one writing process per file: the ingestor opens the file only to write a batch and
closes it at once, retrying while another process (dbt attaching it read-only) holds the lock.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from patient360.duck import scalar
from patient360.locks import advisory_lock
from patient360.settings import KafkaSettings

log = logging.getLogger(__name__)

LANDING_FILE = "stream_landing.duckdb"
LOCK_FILE = "stream_landing.lock"
STATE_SCHEMA = "stream_ingestion"
LANDING_COLUMNS = (
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp_type",
    "kafka_timestamp",
    "kafka_key",
    "kafka_value",
    "kafka_headers",
    "refresh_time",
)
TIMESTAMP_TYPES = {0: "C", 1: "L"}  # CreateTime, LogAppendTime; anything else: 'U'


class LandingError(RuntimeError):
    """The landing file or the broker is not in a state the ingestor can continue from."""


def landing_path(data_dir: Path) -> Path:
    return data_dir / LANDING_FILE


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def landing_table(schema: str, topic: str) -> str:
    return f"{quote(schema)}.{quote(topic)}"


@contextmanager
def landing_lock(data_dir: Path, *, shared: bool, timeout_s: float) -> Iterator[None]:
    """Advisory lock next to the landing file: the ingestor writes under an exclusive lock, readers
    (dbt runs) hold a shared one, so neither meets DuckDB's file lock mid-way."""
    with advisory_lock(data_dir / LOCK_FILE, shared=shared, timeout_s=timeout_s, error=LandingError):
        yield


def connect_with_retry(path: Path, *, timeout_s: float, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the landing file, waiting while another process holds DuckDB's lock on it."""
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise LandingError(
                    f"cannot open {path} (held by another process for {timeout_s:.0f}s)"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def ensure_landing(data_dir: Path, topic: str, schema: str, *, lock_timeout_s: float = 60.0) -> Path:
    """Create the landing file, table and offset store if missing (dbt can then attach it)."""
    path = landing_path(data_dir)
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = connect_with_retry(path, timeout_s=lock_timeout_s)
        try:
            _create_landing(con, schema, topic)
        finally:
            con.close()
    return path


def _create_landing(con: duckdb.DuckDBPyConnection, schema: str, topic: str) -> None:
    con.execute(f"create schema if not exists {quote(schema)}")
    con.execute(
        f"create table if not exists {landing_table(schema, topic)} ("
        "kafka_partition bigint not null, kafka_offset bigint not null, kafka_timestamp_type varchar(1), "
        "kafka_timestamp timestamp, kafka_key blob, kafka_value blob, kafka_headers json, "
        "refresh_time timestamp not null, primary key (kafka_partition, kafka_offset))"
    )
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(
        f"create table if not exists {STATE_SCHEMA}.consumer_offsets (topic varchar not null, "
        "kafka_partition bigint not null, next_offset bigint not null, cluster_id varchar, "
        "updated_at timestamp not null, primary key (topic, kafka_partition))"
    )


def stored_offsets(
    data_dir: Path, topic: str, *, lock_timeout_s: float = 60.0
) -> dict[int, tuple[int, str | None]]:
    """partition -> (next offset to read, cluster id it was read from)."""
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = connect_with_retry(landing_path(data_dir), timeout_s=lock_timeout_s)
        try:
            rows = con.execute(
                f"select kafka_partition, next_offset, cluster_id from {STATE_SCHEMA}.consumer_offsets "
                "where topic = ?",
                [topic],
            ).fetchall()
        finally:
            con.close()
    return {int(p): (int(n), c) for p, n, c in rows}


def reset_topic(data_dir: Path, topic: str, schema: str, *, lock_timeout_s: float = 60.0) -> int:
    """Start a topic's landing over: its rows and stored offsets go, in one transaction (for a new stream,
    e.g. a fresh in-memory broker). Returns the rows removed; the stream's dbt models then need a
    ``--full-refresh`` (their offset watermarks belong to the old stream). The one landing reset."""
    if not landing_path(data_dir).exists():
        return 0
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = connect_with_retry(landing_path(data_dir), timeout_s=lock_timeout_s)
        try:
            _create_landing(con, schema, topic)
            con.execute("begin transaction")
            removed = scalar(con, f"select count(*) from {landing_table(schema, topic)}")
            con.execute(f"delete from {landing_table(schema, topic)}")
            con.execute(f"delete from {STATE_SCHEMA}.consumer_offsets where topic = ?", [topic])
            con.execute("commit")
        finally:
            con.close()
    return int(removed)


def headers_json(headers: Sequence[tuple[str, bytes | None]] | None) -> str:
    """Kafka headers as a JSON array of one-key objects (the SUPER value Redshift exposes)."""
    items = []
    for key, value in headers or ():
        items.append({key: None if value is None else value.decode("utf-8", errors="replace")})
    return json.dumps(items, separators=(",", ":"))


@dataclass
class RefreshReport:
    topic: str
    landed: int = 0
    skipped_already_landed: int = 0
    batches: int = 0
    seconds: float = 0.0
    partitions: dict[int, int] = field(default_factory=dict)  # partition -> next offset after the run

    @property
    def records_per_second(self) -> float:
        return self.landed / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.topic}: {self.landed} records landed in {self.batches} batch(es), {self.seconds:.2f}s "
            f"({self.records_per_second:,.0f}/s), {self.skipped_already_landed} already landed"
        )


class FaultInjector:
    """Test hook: ``kill_before_commit:N`` SIGKILLs the process after batch N's rows are inserted."""

    def __init__(self, spec: str | None) -> None:
        self.kill_before_commit: int | None = None
        if spec:
            name, _, number = spec.partition(":")
            if name != "kill_before_commit" or not number.isdigit():
                raise ValueError(f"P360_STREAM_LANDING_FAULT must look like kill_before_commit:<batch>, got {spec!r}")
            self.kill_before_commit = int(number)

    def before_commit(self, batch_number: int) -> None:
        if self.kill_before_commit == batch_number:
            os.kill(os.getpid(), signal.SIGKILL)


class StreamLanding:
    """Consumes one topic into the landing table; one instance per process."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        data_dir: Path,
        schema: str,
        security: Mapping[str, Any] | None = None,
        fault: str | None = None,
        max_batch_records: int = 20_000,
        max_batch_wait_s: float = 1.0,
        poll_timeout_ms: int = 250,
        lock_timeout_s: float = 120.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.data_dir = data_dir
        self.schema = schema
        self.security = dict(security or {})
        self.max_batch_records = max_batch_records
        self.max_batch_wait_s = max_batch_wait_s
        self.poll_timeout_ms = poll_timeout_ms
        self.lock_timeout_s = lock_timeout_s
        self.faults = FaultInjector(fault)
        self._consumer: Any = None
        self._assigned: set[int] = set()
        self._batch_number = 0

    # --- Kafka side -------------------------------------------------------------------------------

    def _open_consumer(self) -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,  # offsets live in the warehouse, next to the rows
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch_records,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **self.security,
        )

    def _cluster_id(self) -> str | None:
        return getattr(self._consumer._client.cluster, "cluster_id", None)

    def _sync_assignment(self) -> None:
        """Assign all of the topic's partitions, each positioned at its stored next offset."""
        from kafka import TopicPartition

        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        new = set(partitions) - self._assigned
        if not new:
            return
        stored = stored_offsets(self.data_dir, self.topic, lock_timeout_s=self.lock_timeout_s)
        cluster_id = self._cluster_id()
        for partition, (_, stored_cluster) in stored.items():
            if cluster_id and stored_cluster and stored_cluster != cluster_id and partition in new:
                raise LandingError(
                    f"{landing_path(self.data_dir)} holds offsets of topic {self.topic} from Kafka "
                    f"cluster {stored_cluster}, but the broker is cluster {cluster_id} (an in-memory "
                    "broker restarted empty?). Remove the landing file and rebuild the dbt models with "
                    "--full-refresh to start over."
                )
        self._assigned |= new
        tps = [TopicPartition(self.topic, p) for p in sorted(self._assigned)]
        self._consumer.assign(tps)
        for tp in tps:
            if tp.partition in stored:
                self._consumer.seek(tp, stored[tp.partition][0])
            else:
                self._consumer.seek_to_beginning(tp)

    def _poll_batch(self) -> dict[int, list[Any]]:
        """Records for one transaction: poll until the batch is full, the wait is over or a poll is empty."""
        batch: dict[int, list[Any]] = {}
        count = 0
        deadline = time.monotonic() + self.max_batch_wait_s
        while count < self.max_batch_records and time.monotonic() < deadline:
            polled = self._consumer.poll(
                timeout_ms=self.poll_timeout_ms, max_records=self.max_batch_records - count
            )
            if not polled:
                break
            for tp, records in polled.items():
                batch.setdefault(tp.partition, []).extend(records)
                count += len(records)
        return batch

    # --- warehouse side ---------------------------------------------------------------------------

    def _write_batch(self, batch: Mapping[int, list[Any]], report: RefreshReport) -> None:
        """Land the records and move the offsets, in one transaction."""
        self._batch_number += 1
        refresh_time = datetime.now(UTC).replace(tzinfo=None)
        cluster_id = self._cluster_id()
        with landing_lock(self.data_dir, shared=False, timeout_s=self.lock_timeout_s):
            self._write_locked(batch, report, refresh_time, cluster_id)

    def _write_locked(
        self,
        batch: Mapping[int, list[Any]],
        report: RefreshReport,
        refresh_time: datetime,
        cluster_id: str | None,
    ) -> None:
        con = connect_with_retry(landing_path(self.data_dir), timeout_s=self.lock_timeout_s)
        try:
            con.execute("begin transaction")
            stored = dict(
                con.execute(
                    f"select kafka_partition, next_offset from {STATE_SCHEMA}.consumer_offsets "
                    "where topic = ?",
                    [self.topic],
                ).fetchall()
            )
            columns: dict[str, list[Any]] = {name: [] for name in LANDING_COLUMNS}
            next_offsets: dict[int, int] = {}
            for partition, records in batch.items():
                start = stored.get(partition, 0)
                for record in sorted(records, key=lambda r: r.offset):
                    if record.offset < start or record.offset < next_offsets.get(partition, 0):
                        report.skipped_already_landed += 1
                        continue
                    columns["kafka_partition"].append(partition)
                    columns["kafka_offset"].append(record.offset)
                    columns["kafka_timestamp_type"].append(TIMESTAMP_TYPES.get(record.timestamp_type, "U"))
                    columns["kafka_timestamp"].append(
                        datetime.fromtimestamp(record.timestamp / 1000, UTC).replace(tzinfo=None)
                        if record.timestamp is not None and record.timestamp >= 0
                        else None
                    )
                    columns["kafka_key"].append(record.key)
                    columns["kafka_value"].append(record.value)
                    columns["kafka_headers"].append(headers_json(record.headers))
                    columns["refresh_time"].append(refresh_time)
                    next_offsets[partition] = record.offset + 1
            if next_offsets:
                con.execute(
                    f"insert into {landing_table(self.schema, self.topic)} ({', '.join(LANDING_COLUMNS)}) "
                    "select unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6), "
                    "unnest($7)::json, unnest($8)",
                    [columns[name] for name in LANDING_COLUMNS],
                )
                con.executemany(
                    f"insert or replace into {STATE_SCHEMA}.consumer_offsets values (?, ?, ?, ?, ?)",
                    [[self.topic, p, n, cluster_id, refresh_time] for p, n in sorted(next_offsets.items())],
                )
            self.faults.before_commit(self._batch_number)
            con.execute("commit")
        finally:
            con.close()  # an open transaction is rolled back
        report.landed += len(columns["kafka_offset"])
        report.batches += 1
        report.partitions.update(next_offsets)

    # --- modes --------------------------------------------------------------------------------------

    def run(
        self,
        *,
        idle_polls: int = 3,
        max_seconds: float | None = None,
        stop: threading.Event | None = None,
        follow: bool = False,
        on_batch: Callable[[RefreshReport], None] | None = None,
    ) -> RefreshReport:
        """Land new records; stop after ``idle_polls`` empty polls (refresh), or on ``stop`` (follow)."""
        ensure_landing(self.data_dir, self.topic, self.schema, lock_timeout_s=self.lock_timeout_s)
        report = RefreshReport(topic=self.topic)
        started = time.monotonic()
        self._consumer = self._open_consumer()
        try:
            idle = 0
            last_sync = 0.0
            while True:
                if stop is not None and stop.is_set():
                    break
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    break
                if time.monotonic() - last_sync > (5.0 if follow else 1.0) or not self._assigned:
                    self._sync_assignment()
                    last_sync = time.monotonic()
                if not self._assigned:
                    idle += 1
                    if not follow and idle >= idle_polls:
                        break
                    time.sleep(self.poll_timeout_ms / 1000)
                    continue
                batch = self._poll_batch()
                if not batch:
                    idle += 1
                    if not follow and idle >= idle_polls:
                        break
                    continue
                idle = 0
                self._write_batch(batch, report)
                if on_batch is not None:
                    on_batch(report)
        finally:
            self._consumer.close()
            self._consumer = None
            self._assigned = set()
        report.seconds = time.monotonic() - started
        return report


def landing_for(kafka: KafkaSettings, data_dir: Path, bootstrap_servers: str, **options: Any) -> StreamLanding:
    """The landing of the configured topic (schema, security and fault hook from the settings)."""
    return StreamLanding(
        bootstrap_servers=bootstrap_servers, topic=kafka.topic, data_dir=data_dir, schema=kafka.external_schema,
        security=kafka.client_config(), **options,
    )


def refresh(
    kafka: KafkaSettings, data_dir: Path, bootstrap_servers: str, *, idle_polls: int = 3,
    max_seconds: float | None = None, **options: Any,
) -> RefreshReport:
    """One ``REFRESH MATERIALIZED VIEW``: land everything new, then stop."""
    landing = landing_for(kafka, data_dir, bootstrap_servers, **options)
    return landing.run(idle_polls=idle_polls, max_seconds=max_seconds)
