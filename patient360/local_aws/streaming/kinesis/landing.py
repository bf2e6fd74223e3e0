"""Redshift streaming ingestion from Kinesis Data Streams, locally: Kinesis stream -> DuckDB landing table.

The landing table ``<schema>."<stream>"`` in the same ``stream_landing.duckdb`` as the MSK landing has exactly
the columns a Redshift streaming view over a Kinesis stream exposes::

    approximate_arrival_timestamp, partition_key, shard_id, sequence_number, refresh_time, kinesis_data

(https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion-getting-started.html).

Exactly once per shard, whatever crashes: each batch's rows and every touched shard's checkpoint (last sequence
number landed, whether the closed shard is read to its end, ``MillisBehindLatest``) are written in ONE DuckDB
transaction; on start each shard is read AFTER_SEQUENCE_NUMBER its checkpoint. Rows at or below a stored
checkpoint are skipped inside the transaction, so two racing ingestors cannot land a record twice;
``(shard_id, sequence_number)`` is also the table's primary key.

Resharding: a child shard is read only once its parent (and adjacent parent) is read to the end, so a
partition key's records land in order across a split or merge.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from patient360.duck import scalar
from patient360.local_aws.streaming.landing import (
    STATE_SCHEMA,
    FaultInjector,
    LandingError,
    connect_with_retry,
    landing_lock,
    landing_path,
    landing_table,
    quote,
)

LANDING_COLUMNS = ("approximate_arrival_timestamp", "partition_key", "shard_id", "sequence_number", "refresh_time",
                   "kinesis_data")
CHECKPOINTS = f"{STATE_SCHEMA}.kinesis_checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    sequence_number: str | None  # the last one landed; None: nothing yet (read from TRIM_HORIZON)
    finished: bool  # a closed shard read to its end
    millis_behind_latest: int | None = None
    stream_created: str | None = None
    updated_at: datetime | None = None


def _create_landing(con: duckdb.DuckDBPyConnection, schema: str, stream: str) -> None:
    con.execute(f"create schema if not exists {quote(schema)}")
    con.execute(
        f"create table if not exists {landing_table(schema, stream)} ("
        "approximate_arrival_timestamp timestamp, partition_key varchar, shard_id varchar not null, "
        "sequence_number varchar not null, refresh_time timestamp not null, kinesis_data blob, "
        "primary key (shard_id, sequence_number))"
    )
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(
        f"create table if not exists {CHECKPOINTS} (stream varchar not null, shard_id varchar not null, "
        "sequence_number varchar, finished boolean not null, millis_behind_latest bigint, stream_created varchar, "
        "updated_at timestamp not null, primary key (stream, shard_id))"
    )


def _open(data_dir: Path, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    return connect_with_retry(landing_path(data_dir), timeout_s=lock_timeout_s)


def ensure_landing(data_dir: Path, stream: str, schema: str, *, lock_timeout_s: float = 60.0) -> Path:
    """Create the landing file, table and checkpoint store if missing (dbt can then attach it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = _open(data_dir, lock_timeout_s)
        try:
            _create_landing(con, schema, stream)
        finally:
            con.close()
    return landing_path(data_dir)


def _read_checkpoints(con: duckdb.DuckDBPyConnection, stream: str) -> dict[str, Checkpoint]:
    rows = con.execute(
        f"select shard_id, sequence_number, finished, millis_behind_latest, stream_created, updated_at "
        f"from {CHECKPOINTS} where stream = ?", [stream]).fetchall()
    return {shard: Checkpoint(seq, bool(done), lag, created, at) for shard, seq, done, lag, created, at in rows}


def stored_checkpoints(data_dir: Path, stream: str, *, lock_timeout_s: float = 60.0) -> dict[str, Checkpoint]:
    """shard id -> checkpoint (empty when nothing was landed yet)."""
    if not landing_path(data_dir).exists():
        return {}
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = _open(data_dir, lock_timeout_s)
        try:
            exists = scalar(con, "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                            [STATE_SCHEMA, "kinesis_checkpoints"])
            return _read_checkpoints(con, stream) if exists else {}
        finally:
            con.close()


def reset_stream(data_dir: Path, stream: str, schema: str, *, lock_timeout_s: float = 60.0) -> int:
    """Start a stream's landing over (a new, empty stream): rows and checkpoints go in one transaction."""
    if not landing_path(data_dir).exists():
        return 0
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = _open(data_dir, lock_timeout_s)
        try:
            _create_landing(con, schema, stream)
            con.execute("begin transaction")
            removed = scalar(con, f"select count(*) from {landing_table(schema, stream)}")
            con.execute(f"delete from {landing_table(schema, stream)}")
            con.execute(f"delete from {CHECKPOINTS} where stream = ?", [stream])
            con.execute("commit")
        finally:
            con.close()
    return int(removed)


@dataclass
class ShardRead:
    """One GetRecords answer for one shard."""

    shard_id: str
    records: list[dict[str, Any]]
    next_iterator: str | None  # None: the shard is closed and read to its end
    millis_behind_latest: int | None


@dataclass
class KinesisRefreshReport:
    stream: str
    landed: int = 0
    skipped_already_landed: int = 0
    batches: int = 0
    seconds: float = 0.0
    shards: dict[str, str | None] = field(default_factory=dict)  # shard -> last sequence number after the run
    finished_shards: list[str] = field(default_factory=list)

    @property
    def records_per_second(self) -> float:
        return self.landed / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.stream}: {self.landed} records landed in {self.batches} batch(es), {self.seconds:.2f}s "
                f"({self.records_per_second:,.0f}/s), {self.skipped_already_landed} already landed, "
                f"{len(self.finished_shards)} closed shard(s) read to the end")


def readable_shards(shards: list[dict[str, Any]], checkpoints: dict[str, Checkpoint]) -> list[str]:
    """Shards to read now: not read to their end, and every parent still listed read to its end first."""
    listed = {s["ShardId"] for s in shards}

    def done(shard_id: str | None) -> bool:
        if shard_id is None or shard_id not in listed:
            return True  # no parent, or a parent past the retention period (nothing left to read)
        checkpoint = checkpoints.get(shard_id)
        return checkpoint is not None and checkpoint.finished

    return [s["ShardId"] for s in shards
            if not done(s["ShardId"]) and done(s.get("ParentShardId")) and done(s.get("AdjacentParentShardId"))]


def sequence_key(sequence_number: str) -> int:
    """Sequence numbers are decimal strings up to 128 digits; they compare as numbers within a shard."""
    return int(sequence_number)


class KinesisLanding:
    """Consumes one Kinesis stream into the landing table; one instance per process."""

    def __init__(self, *, client: Any, stream: str, data_dir: Path, schema: str, fault: str | None = None,
                 max_records_per_shard: int = 10_000, idle_sleep_s: float = 0.2, lock_timeout_s: float = 120.0
                 ) -> None:
        self.client = client
        self.stream = stream
        self.data_dir = data_dir
        self.schema = schema
        self.max_records_per_shard = max_records_per_shard
        self.idle_sleep_s = idle_sleep_s
        self.lock_timeout_s = lock_timeout_s
        self.faults = FaultInjector(fault)
        self._iterators: dict[str, str] = {}  # valid only for positions already committed
        self._batch_number = 0
        self._stream_created: str | None = None

    # --- Kinesis side -----------------------------------------------------------------------------

    def _check_same_stream(self, checkpoints: dict[str, Checkpoint]) -> None:
        """A checkpoint of another incarnation of the stream (kinesalite restarted empty) cannot be resumed."""
        summary = self.client.describe_stream_summary(StreamName=self.stream)["StreamDescriptionSummary"]
        self._stream_created = str(summary["StreamCreationTimestamp"])
        stored = {c.stream_created for c in checkpoints.values() if c.stream_created}
        if stored and stored != {self._stream_created}:
            raise LandingError(
                f"{landing_path(self.data_dir)} holds checkpoints of Kinesis stream {self.stream} created "
                f"{', '.join(sorted(stored))}, but the stream was created {self._stream_created} (a local "
                "kinesalite restarted empty?). Start the landing over (reset) and rebuild the stream's dbt models "
                "with --full-refresh.")

    def _iterator(self, shard_id: str, checkpoint: Checkpoint | None) -> str:
        if shard_id in self._iterators:
            return self._iterators[shard_id]
        if checkpoint is not None and checkpoint.sequence_number is not None:
            options = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                       "StartingSequenceNumber": checkpoint.sequence_number}
        else:
            options = {"ShardIteratorType": "TRIM_HORIZON"}
        response = self.client.get_shard_iterator(StreamName=self.stream, ShardId=shard_id, **options)
        return str(response["ShardIterator"])

    def _read_round(self, checkpoints: dict[str, Checkpoint]) -> list[ShardRead]:
        """One GetRecords per readable shard."""
        from patient360.local_aws.streaming.kinesis.client import list_shards

        reads = []
        for shard_id in readable_shards(list_shards(self.client, self.stream), checkpoints):
            iterator = self._iterator(shard_id, checkpoints.get(shard_id))
            try:
                response = self.client.get_records(ShardIterator=iterator, Limit=self.max_records_per_shard)
            except self.client.exceptions.ExpiredIteratorException:
                self._iterators.pop(shard_id, None)  # read again from the checkpoint next round
                continue
            reads.append(ShardRead(shard_id, response["Records"], response.get("NextShardIterator"),
                                   response.get("MillisBehindLatest")))
        return reads

    # --- warehouse side ---------------------------------------------------------------------------

    def _write(self, reads: list[ShardRead], report: KinesisRefreshReport) -> None:
        """Land the records and move the checkpoints, in one transaction."""
        self._batch_number += 1
        refresh_time = datetime.now(UTC).replace(tzinfo=None)
        with landing_lock(self.data_dir, shared=False, timeout_s=self.lock_timeout_s):
            con = _open(self.data_dir, self.lock_timeout_s)
            try:
                con.execute("begin transaction")
                columns = self._rows_and_checkpoints(con, reads, refresh_time, report)
                if columns["shard_id"]:
                    con.execute(
                        f"insert into {landing_table(self.schema, self.stream)} ({', '.join(LANDING_COLUMNS)}) "
                        "select unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6)",
                        [columns[name] for name in LANDING_COLUMNS])
                self.faults.before_commit(self._batch_number)
                con.execute("commit")
            finally:
                con.close()  # an open transaction is rolled back
        report.landed += len(columns["shard_id"])
        report.batches += 1
        for read in reads:  # committed: the iterators may move on
            if read.next_iterator is None:
                self._iterators.pop(read.shard_id, None)
                report.finished_shards.append(read.shard_id)
            else:
                self._iterators[read.shard_id] = read.next_iterator

    def _rows_and_checkpoints(self, con: duckdb.DuckDBPyConnection, reads: list[ShardRead], refresh_time: datetime,
                              report: KinesisRefreshReport) -> dict[str, list[Any]]:
        stored = _read_checkpoints(con, self.stream)
        columns: dict[str, list[Any]] = {name: [] for name in LANDING_COLUMNS}
        for read in reads:
            checkpoint = stored.get(read.shard_id)
            last = checkpoint.sequence_number if checkpoint else None
            for record in read.records:
                sequence = record["SequenceNumber"]
                if last is not None and sequence_key(sequence) <= sequence_key(last):
                    report.skipped_already_landed += 1
                    continue
                arrival = record.get("ApproximateArrivalTimestamp")
                columns["approximate_arrival_timestamp"].append(
                    arrival.astimezone(UTC).replace(tzinfo=None) if arrival is not None else None)
                columns["partition_key"].append(record["PartitionKey"])
                columns["shard_id"].append(read.shard_id)
                columns["sequence_number"].append(sequence)
                columns["refresh_time"].append(refresh_time)
                columns["kinesis_data"].append(bytes(record["Data"]))
                last = sequence
            # never un-finish a shard another ingestor read to its end (its children are being read)
            finished = read.next_iterator is None or (checkpoint is not None and checkpoint.finished)
            con.execute(
                f"insert or replace into {CHECKPOINTS} values (?, ?, ?, ?, ?, ?, ?)",
                [self.stream, read.shard_id, last, finished, read.millis_behind_latest, self._stream_created,
                 refresh_time])
            report.shards[read.shard_id] = last
        return columns

    # --- modes --------------------------------------------------------------------------------------

    def run(self, *, idle_polls: int = 3, max_seconds: float | None = None, stop: threading.Event | None = None,
            follow: bool = False, on_batch: Callable[[KinesisRefreshReport], None] | None = None
            ) -> KinesisRefreshReport:
        """Land new records; stop after ``idle_polls`` rounds without any (refresh), or on ``stop`` (follow)."""
        ensure_landing(self.data_dir, self.stream, self.schema, lock_timeout_s=self.lock_timeout_s)
        report = KinesisRefreshReport(stream=self.stream)
        started = time.monotonic()
        idle = 0
        self._check_same_stream(stored_checkpoints(self.data_dir, self.stream, lock_timeout_s=self.lock_timeout_s))
        for reads, checkpoints in self._rounds(stop, started, max_seconds):
            changed = any(r.records or r.next_iterator is None for r in reads)
            lag_moved = any(r.millis_behind_latest != getattr(checkpoints.get(r.shard_id), "millis_behind_latest", -1)
                            for r in reads)
            if changed or lag_moved:
                self._write(reads, report)  # an empty read too when its MillisBehindLatest (the lag) moved
            # Real Kinesis may answer empty while behind (an empty stretch of the shard): not idle then.
            if changed or any((r.millis_behind_latest or 0) > 0 for r in reads):
                idle = 0
                if on_batch is not None:
                    on_batch(report)
                continue
            idle += 1
            if not follow and idle >= idle_polls:
                break
            time.sleep(self.idle_sleep_s)
        report.seconds = time.monotonic() - started
        return report

    def _rounds(self, stop: threading.Event | None, started: float, max_seconds: float | None
                ) -> Iterator[tuple[list[ShardRead], dict[str, Checkpoint]]]:
        while not (stop is not None and stop.is_set()):
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                return
            checkpoints = stored_checkpoints(self.data_dir, self.stream, lock_timeout_s=self.lock_timeout_s)
            yield self._read_round(checkpoints), checkpoints


def landing_for(client: Any, stream: str, schema: str, data_dir: Path, **options: Any) -> KinesisLanding:
    return KinesisLanding(client=client, stream=stream, data_dir=data_dir, schema=schema, **options)


def landed_count(data_dir: Path, stream: str, schema: str, *, lock_timeout_s: float = 60.0) -> int:
    """Rows of the stream in the landing (0 when there is no landing yet)."""
    if not landing_path(data_dir).exists():
        return 0
    with landing_lock(data_dir, shared=False, timeout_s=lock_timeout_s):
        con = _open(data_dir, lock_timeout_s)
        try:
            exists = scalar(con, "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                            [schema, stream])
            return int(scalar(con, f"select count(*) from {landing_table(schema, stream)}")) if exists else 0
        finally:
            con.close()
