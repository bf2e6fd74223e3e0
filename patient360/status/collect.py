"""What is where right now, per source: row counts, HealthLake import jobs, the wearable stream's stored offsets
per partition, the zero-ETL replica's table states and replication lag, and dbt source freshness.

Read-only: the DuckDB files are opened read_only (each briefly, retried while a writer holds the lock) and
freshness comes from `dbt source freshness`, so `patient360 status` can run next to the pipeline.
Nothing here prints row contents: counts, names and times only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from patient360.dbt import run_dbt, target_path
from patient360.duck import scalar
from patient360.local_aws.attachments import attach_sources, attached_sources
from patient360.local_aws.healthlake.bulk_import import IMPORT_LOG_SCHEMA
from patient360.local_aws.streaming.kinesis.landing import CHECKPOINTS as KINESIS_CHECKPOINTS
from patient360.local_aws.streaming.landing import STATE_SCHEMA, landing_table
from patient360.local_aws.zero_etl.replicator import METADATA_SCHEMA
from patient360.settings import Settings

LOCK_RETRY_SECONDS = 10.0
NEVER_LOADED_PREFIX = "0001-01-01"  # dbt's max_loaded_at for a source with no loaded-at value (e.g. empty)


@dataclass(frozen=True)
class TableCount:
    database: str
    schema: str
    table: str
    rows: int


@dataclass(frozen=True)
class ImportJob:
    job_id: str
    submitted_at: str
    resources_loaded: int
    resources_rejected: int


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    status: str  # pass | warn | error | runtime error
    max_loaded_at: str | None
    age_seconds: float | None


@dataclass(frozen=True)
class StreamOffset:
    """The landing's next offset to read per topic partition (stored with the rows, exactly once)."""

    topic: str
    partition: int
    next_offset: int
    landed_rows: int
    updated_at: str


@dataclass(frozen=True)
class KinesisShard:
    """The Kinesis landing's checkpoint of one shard (stored with the rows, exactly once) and its lag."""

    stream: str
    shard_id: str
    sequence_number: str | None  # the last one landed
    finished: bool  # a closed shard read to its end
    millis_behind_latest: int | None  # GetRecords' MillisBehindLatest at the last read
    landed_rows: int
    updated_at: str


@dataclass(frozen=True)
class ReplicatedTable:
    """One table of the zero-ETL integration (SVV_INTEGRATION_TABLE_STATE) and the latest batch's lag."""

    table: str
    state: str
    rows: int | None
    checkpoint: str | None
    last_updated_at: str | None
    reason: str | None
    last_batch_lag_seconds: float | None
    last_batch_applied_at: str | None
    seconds_since_update: float | None


@dataclass
class Status:
    source_tables: list[TableCount] = field(default_factory=list)
    models: list[TableCount] = field(default_factory=list)
    import_jobs: list[ImportJob] = field(default_factory=list)
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    freshness: list[SourceFreshness] = field(default_factory=list)
    stream_offsets: list[StreamOffset] = field(default_factory=list)
    kinesis_shards: list[KinesisShard] = field(default_factory=list)
    replication: list[ReplicatedTable] = field(default_factory=list)
    unresolved_references: dict[str, int] = field(default_factory=dict)  # resource type -> count
    problems: list[str] = field(default_factory=list)


@contextmanager
def read_only(path: Path, timeout: float = LOCK_RETRY_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, retried (bounded) while another process holds the file's write lock."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    try:
        yield con
    finally:
        con.close()


def table_counts(con: duckdb.DuckDBPyConnection, catalog: str, schemas: list[str] | None = None) -> list[TableCount]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = ? "
        "order by table_schema, table_name",
        [catalog],
    ).fetchall()
    counts = []
    for schema, table in rows:
        if schemas is not None and schema not in schemas:
            continue
        n = scalar(con, f'select count(*) from "{catalog}"."{schema}"."{table}"')
        counts.append(TableCount(catalog, schema, table, int(n)))
    return counts


def healthlake_status(settings: Settings, status: Status) -> None:
    path = settings.healthlake_catalog_path
    if not path.exists():
        status.problems.append(f"no HealthLake stand-in at {path}: run `patient360 healthlake import`")
        return
    with read_only(path) as con:
        logged = {
            name for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [IMPORT_LOG_SCHEMA]
            ).fetchall()
        }
        if "jobs" in logged:
            status.import_jobs = [
                ImportJob(job_id, str(submitted_at), int(loaded), int(rejected))
                for job_id, submitted_at, loaded, rejected in con.execute(
                    f"select job_id, submitted_at, resources_loaded, resources_rejected from {IMPORT_LOG_SCHEMA}.jobs "
                    "order by submitted_at"
                ).fetchall()
            ]
        if "rejected_resources" in logged:
            status.rejections_by_reason = {
                reason: int(n) for reason, n in con.execute(
                    f"select reason, count(*) from {IMPORT_LOG_SCHEMA}.rejected_resources group by reason "
                    "order by count(*) desc, reason"
                ).fetchall()
            }


def source_table_status(settings: Settings, status: Status) -> None:
    """Every table of every source file the `local` profile attaches (HealthLake, zero-ETL replica, stream)."""
    for alias, path in attached_sources(settings).items():
        if not path.exists():
            continue
        with read_only(path) as con:
            catalog = scalar(con, "select current_database()")
            counts = table_counts(con, catalog)
        status.source_tables += [
            TableCount(alias, c.schema, c.table, c.rows) for c in counts if c.schema != IMPORT_LOG_SCHEMA
        ]


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(scalar(
        con, "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ))


def stream_status(settings: Settings, status: Status) -> None:
    """Stored offsets per topic partition, with the rows landed from each partition."""
    path = settings.landing_path
    schema = settings.kafka.external_schema
    if not path.exists():
        return
    with read_only(path) as con:
        if not has_table(con, STATE_SCHEMA, "consumer_offsets"):
            return
        offsets = con.execute(
            f"select topic, kafka_partition, next_offset, updated_at from {STATE_SCHEMA}.consumer_offsets "
            "order by topic, kafka_partition"
        ).fetchall()
        landed: dict[tuple[str, int], int] = {}
        for topic in sorted({row[0] for row in offsets}):
            if has_table(con, schema, topic):
                for partition, n in con.execute(
                    f"select kafka_partition, count(*) from {landing_table(schema, topic)} group by 1"
                ).fetchall():
                    landed[(topic, int(partition))] = int(n)
    status.stream_offsets = [
        StreamOffset(topic, int(partition), int(next_offset), landed.get((topic, int(partition)), 0), str(updated))
        for topic, partition, next_offset, updated in offsets
    ]


def kinesis_status(settings: Settings, status: Status) -> None:
    """Per shard of the Kinesis stream: checkpoint, whether read to its end, lag, rows landed."""
    path, schema, stream = settings.landing_path, settings.kinesis.external_schema, settings.kinesis.stream
    if not path.exists():
        return
    with read_only(path) as con:
        if not has_table(con, STATE_SCHEMA, "kinesis_checkpoints"):
            return
        checkpoints = con.execute(
            f"select shard_id, sequence_number, finished, millis_behind_latest, updated_at "
            f"from {KINESIS_CHECKPOINTS} where stream = ? order by shard_id", [stream]).fetchall()
        landed: dict[str, int] = {}
        if has_table(con, schema, stream):
            landed = {shard: int(n) for shard, n in con.execute(
                f"select shard_id, count(*) from {landing_table(schema, stream)} group by 1").fetchall()}
    status.kinesis_shards = [
        KinesisShard(stream, shard, seq, bool(done), None if lag is None else int(lag), landed.get(shard, 0),
                     str(updated))
        for shard, seq, done, lag, updated in checkpoints
    ]


def replication_status(settings: Settings, status: Status) -> None:
    """The replica's integration table states (as SVV_INTEGRATION_TABLE_STATE) and the latest batch's lag."""
    path = settings.replica_path
    if not path.exists():
        return
    with read_only(path) as con:
        if not has_table(con, METADATA_SCHEMA, "integration_table_state"):
            return
        lag = None
        if has_table(con, METADATA_SCHEMA, "replication_lag"):
            lag = con.execute(
                f"select lag_seconds, applied_at from {METADATA_SCHEMA}.replication_lag "
                "order by batch_id desc limit 1"
            ).fetchone()
        rows = con.execute(
            f"select table_name, table_state, table_rows, table_last_replicated_checkpoint, "
            f"last_updated_timestamp, reason, epoch(current_timestamp) - epoch(last_updated_timestamp) "
            f"from {METADATA_SCHEMA}.integration_table_state order by table_name"
        ).fetchall()
    status.replication = [
        ReplicatedTable(
            table=name, state=state, rows=None if n is None else int(n), checkpoint=checkpoint,
            last_updated_at=None if updated is None else str(updated), reason=reason,
            last_batch_lag_seconds=None if lag is None else float(lag[0]),
            last_batch_applied_at=None if lag is None else str(lag[1]),
            seconds_since_update=None if age is None else float(age),
        )
        for name, state, n, checkpoint, updated, reason, age in rows
    ]


def warehouse_status(settings: Settings, status: Status) -> None:
    path = settings.warehouse_path
    if not path.exists():
        status.problems.append(f"no warehouse at {path}: run `patient360 build`")
        return
    with read_only(path) as con:
        attach_sources(con, settings)  # views over the sources need them to be counted
        status.models += table_counts(con, "warehouse")
        status.unresolved_references = unresolved_reference_counts(con)


UNRESOLVED_REFERENCES_MODEL = "fct_unresolved_patient_references"


def unresolved_reference_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Clinical resources whose patient reference resolves to no known patient, per resource type (the
    mart's own schema sorts before its masked analyst copy)."""
    schemas = [schema for (schema,) in con.execute(
        "select table_schema from information_schema.tables where table_catalog = 'warehouse' "
        "and table_name = ? order by table_schema", [UNRESOLVED_REFERENCES_MODEL],
    ).fetchall()]
    if not schemas:
        return {}
    rows = con.execute(
        f'select resource_type, count(*) from "warehouse"."{schemas[0]}"."{UNRESOLVED_REFERENCES_MODEL}" '
        "group by resource_type order by resource_type"
    ).fetchall()
    return {resource_type: int(n) for resource_type, n in rows}


def freshness_status(settings: Settings, target: str, status: Status, timeout: float = 300) -> None:
    """`dbt source freshness` for every source with a freshness config; its JSON result, one row per source."""
    output = target_path(settings, "freshness") / "sources.json"
    output.unlink(missing_ok=True)
    result = run_dbt(settings, "source", "freshness", "--output", str(output), target=target,
                     target_name="freshness", timeout_s=timeout)
    if not output.exists():
        tail = result.output.strip()[-500:]
        status.problems.append(f"dbt source freshness did not run (exit {result.returncode}): {tail}")
        return
    for entry in sorted(json.loads(output.read_text(encoding="utf-8"))["results"], key=lambda r: r["unique_id"]):
        loaded_at = entry.get("max_loaded_at")
        never = loaded_at is None or loaded_at.startswith(NEVER_LOADED_PREFIX)
        status.freshness.append(SourceFreshness(
            source=entry["unique_id"].removeprefix("source.").split(".", 1)[1],
            status=entry["status"],
            max_loaded_at=None if never else loaded_at,
            age_seconds=None if never else entry.get("max_loaded_at_time_ago_in_s"),
        ))


def collect_status(settings: Settings, *, target: str = "local", freshness: bool = True) -> Status:
    status = Status()
    if target == "local":
        source_table_status(settings, status)
        healthlake_status(settings, status)
        stream_status(settings, status)
        kinesis_status(settings, status)
        replication_status(settings, status)
        warehouse_status(settings, status)
    if freshness and (target != "local" or settings.healthlake_catalog_path.exists()):
        freshness_status(settings, target, status)
    return status
