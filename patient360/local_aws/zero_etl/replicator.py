"""Local zero-ETL integration: binlog change data capture from the front-desk MySQL into the replica.

What Aurora MySQL zero-ETL does into Redshift, locally:
  * the replica lives in DuckDB file ``$P360_DATA_DIR/<zetl_db>.duckdb``, schema = the source database,
    so dbt reads ``<zetl_db>.front_desk_app_db.patient_appointment`` exactly as on Redshift;
  * no position yet (or a table marked ResyncRequired): a consistent snapshot of every table with its
    binlog coordinates (``START TRANSACTION WITH CONSISTENT SNAPSHOT``), then the binlog from there;
  * inserts, updates (also of the primary key) and deletes are applied by primary key, one source
    transaction never split; a batch of transactions, the binlog position reached, the table states and
    a lag record are written in the SAME DuckDB transaction: a restart neither loses nor repeats changes;
  * ``zero_etl_metadata.integration_table_state`` mirrors Redshift's ``SVV_INTEGRATION_TABLE_STATE``
    (Synced / Failed / ResyncRequired / ResyncInitiated); DDL on a replicated table marks it ResyncRequired,
    the resync marks it ResyncInitiated (reason kept) until the new snapshot commits it Synced;
  * a table without a primary key is refused (state Failed, reason says why), as zero-ETL does.

The DuckDB file is opened per batch and closed again (dbt attaches it read_only in between); a lock
conflict is retried for a bounded time. Row values never appear in logs or errors (PHI).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import HeartbeatLogEvent, QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from patient360.duck import fetch_row, scalar
from patient360.local_aws.zero_etl.mysql import connect
from patient360.locks import advisory_lock
from patient360.settings import FRONT_DESK_DATABASE, MySqlSettings
from simulators.front_desk.schema import REPLICA_TYPES, TABLE

log = logging.getLogger(__name__)

METADATA_SCHEMA = "zero_etl_metadata"
DEFAULT_INTEGRATION_ID = "front-desk-zero-etl"
REQUIRED_BINLOG = {
    "log_bin": "1", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL",
}
DDL_PREFIXES = ("alter", "create", "drop", "rename", "truncate")
NO_PK_REASON = (
    "Table does not have a primary key: zero-ETL replicates only tables with a primary key "
    "(add one; the table is then resynced)"
)

Pk = tuple[Any, ...]
FaultHook = Callable[[str], None]


class ZeroEtlError(RuntimeError):
    """The integration cannot go on; the message says what to fix."""


class NoPrimaryKeyError(ZeroEtlError):
    pass


@dataclass(frozen=True, order=True)
class Position:
    log_file: str
    log_pos: int

    def checkpoint(self) -> str:
        return f"{self.log_file}:{self.log_pos}"


@dataclass(frozen=True)
class SourceTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, duckdb type)
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def pk_of(self, row: dict[str, Any]) -> Pk:
        return tuple(row[c] for c in self.primary_key)


@dataclass
class Batch:
    """Committed source transactions not yet applied: net effect per table and primary key."""

    changes: dict[str, dict[Pk, dict[str, Any] | None]] = field(default_factory=dict)
    transactions: int = 0
    row_changes: int = 0
    first_commit: float | None = None
    last_commit: float | None = None
    opened_at: float = field(default_factory=time.monotonic)

    def __bool__(self) -> bool:
        return self.transactions > 0


@dataclass
class RunReport:
    transactions: int = 0
    row_changes: int = 0
    batches: int = 0
    resyncs: int = 0
    position: Position | None = None
    refused: list[str] = field(default_factory=list)


def require_primary_key(table: SourceTable, database: str) -> None:
    if not table.primary_key:
        raise NoPrimaryKeyError(f"{database}.{table.name}: {NO_PK_REASON}")


def duckdb_type(data_type: str, column_type: str, precision: int | None, scale: int | None) -> str:
    """MySQL column type -> DuckDB type (what Redshift zero-ETL maps to, in DuckDB terms)."""
    data_type = data_type.lower()
    unsigned = "unsigned" in column_type.lower()
    if data_type in ("tinyint", "smallint", "mediumint", "int", "integer", "year"):
        return "BIGINT"
    if data_type == "bigint":
        return "HUGEINT" if unsigned else "BIGINT"
    if data_type in ("decimal", "numeric"):
        return f"DECIMAL({min(precision or 18, 38)}, {scale or 0})"
    if data_type in ("float", "double", "real"):
        return "DOUBLE"
    if data_type == "date":
        return "DATE"
    if data_type in ("datetime", "timestamp"):
        return "TIMESTAMP"
    if data_type in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"):
        return "BLOB"
    return "VARCHAR"  # char, varchar, text, enum, set, json, time


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def replica_lock_path(replica_path: Path) -> Path:
    """The advisory lock next to a replica file (the replicator: exclusive per batch; dbt: shared)."""
    return replica_path.with_suffix(".lock")


class Replicator:
    def __init__(
        self,
        source: MySqlSettings,
        data_dir: Path,
        zetl_db: str,
        *,
        integration_id: str = DEFAULT_INTEGRATION_ID,
        server_id: int = 4242,
        heartbeat_seconds: float = 0.1,
        batch_max_seconds: float = 0.2,
        batch_max_changes: int = 5000,
        lock_timeout: float = 60.0,
        build_wait_timeout: float = 1800.0,
        fault_hook: FaultHook | None = None,
    ) -> None:
        if not zetl_db.replace("_", "").isalnum():
            raise ValueError(f"zero-ETL database name: letters, digits and underscores only, got {zetl_db!r}")
        self.source = source
        self.database = source.database
        self.zetl_db = zetl_db
        self.replica_path = data_dir / f"{zetl_db}.duckdb"
        self.integration_id = integration_id
        self.server_id = server_id
        self.heartbeat_seconds = heartbeat_seconds
        self.batch_max_seconds = batch_max_seconds
        self.batch_max_changes = batch_max_changes
        self.lock_timeout = lock_timeout
        self.build_wait_timeout = build_wait_timeout
        self.fault_hook = fault_hook or (lambda point: None)
        self.tables: dict[str, SourceTable] = {}
        self._batch_seq = 0

    # --- the replica file --------------------------------------------------------------------------

    @contextmanager
    def replica(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the replica for one unit of work and close it again. A running dbt build holds the replica's
        shared lock (it has the file attached read-only): wait for it, the changes queue up in the binlog."""
        self.replica_path.parent.mkdir(parents=True, exist_ok=True)
        with advisory_lock(
            replica_lock_path(self.replica_path), shared=False, timeout_s=self.build_wait_timeout, error=ZeroEtlError
        ):
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    con = duckdb.connect(str(self.replica_path))
                    break
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                        raise ZeroEtlError(f"cannot open the replica {self.replica_path}: {exc}") from exc
                    time.sleep(0.02)
            try:
                yield con
            finally:
                con.close()

    def initialise(self) -> None:
        with self.replica() as con:
            con.execute(f"create schema if not exists {quote(self.database)}")
            con.execute(f"create schema if not exists {METADATA_SCHEMA}")
            con.execute(
                f"create table if not exists {METADATA_SCHEMA}.integration_position (integration_id varchar, "
                "log_file varchar, log_pos bigint, updated_at timestamptz)"
            )
            con.execute(
                f"create table if not exists {METADATA_SCHEMA}.integration_table_state ("
                "integration_id varchar, target_database varchar, schema_name varchar, table_name varchar, "
                "table_state varchar, table_last_replicated_checkpoint varchar, reason varchar, "
                "last_updated_timestamp timestamptz, table_rows bigint, primary_key varchar)"
            )
            con.execute(
                f"create table if not exists {METADATA_SCHEMA}.replication_lag (integration_id varchar, "
                "batch_id bigint, transactions bigint, row_changes bigint, "
                "first_source_commit_at timestamptz, last_source_commit_at timestamptz, "
                "applied_at timestamptz, lag_seconds double)"
            )
            last_batch = scalar(
                con, f"select coalesce(max(batch_id), 0) from {METADATA_SCHEMA}.replication_lag "
                "where integration_id = ?", [self.integration_id],
            )
            self._batch_seq = int(last_batch)

    def stored_position(self) -> Position | None:
        with self.replica() as con:
            row = con.execute(
                f"select log_file, log_pos from {METADATA_SCHEMA}.integration_position "
                "where integration_id = ?",
                [self.integration_id],
            ).fetchone()
        return Position(row[0], int(row[1])) if row else None

    def table_states(self) -> dict[str, tuple[str, str | None]]:
        with self.replica() as con:
            rows = con.execute(
                f"select table_name, table_state, reason from {METADATA_SCHEMA}.integration_table_state "
                "where integration_id = ?",
                [self.integration_id],
            ).fetchall()
        return {name: (state, reason) for name, state, reason in rows}

    # --- the source --------------------------------------------------------------------------------

    def check_source(self, con: pymysql.connections.Connection) -> None:
        """The binlog settings zero-ETL needs, checked up front with a message naming the fix."""
        with con.cursor() as cur:
            problems = []
            for name, expected in REQUIRED_BINLOG.items():
                cur.execute(f"select @@global.{name}")
                (value,) = cur.fetchone() or (None,)
                if str(value).upper() not in (expected, "ON" if expected == "1" else expected):
                    problems.append(f"{name}={value} (needs {expected if expected != '1' else 'ON'})")
        if problems:
            raise ZeroEtlError(
                f"source {self.source.describe()} is not set up for zero-ETL: {', '.join(problems)}"
            )

    def describe_tables(self, con: pymysql.connections.Connection) -> dict[str, SourceTable]:
        with con.cursor() as cur:
            cur.execute(
                "select table_name, column_name, data_type, column_type, numeric_precision, numeric_scale "
                "from information_schema.columns where table_schema = %s "
                "order by table_name, ordinal_position",
                (self.database,),
            )
            columns: dict[str, list[tuple[str, str]]] = {}
            for table, column, data_type, column_type, precision, scale in cur.fetchall():
                mapped = duckdb_type(data_type, column_type, precision, scale)
                columns.setdefault(table, []).append((column, mapped))
            cur.execute(
                "select table_name, column_name from information_schema.key_column_usage "
                "where table_schema = %s and constraint_name = 'PRIMARY' "
                "order by table_name, ordinal_position",
                (self.database,),
            )
            keys: dict[str, list[str]] = {}
            for table, column in cur.fetchall():
                keys.setdefault(table, []).append(column)
            cur.execute(
                "select table_name from information_schema.tables "
                "where table_schema = %s and table_type = 'BASE TABLE'",
                (self.database,),
            )
            base_tables = {name for (name,) in cur.fetchall()}
        return {
            name: SourceTable(name, tuple(cols), tuple(keys.get(name, ())))
            for name, cols in columns.items() if name in base_tables
        }

    def current_source_position(self, con: pymysql.connections.Connection) -> Position:
        with con.cursor() as cur:
            try:
                cur.execute("show binary log status")
            except pymysql.err.MySQLError:
                cur.execute("show master status")
            row = cur.fetchone()
        if not row:
            raise ZeroEtlError(f"source {self.source.describe()} has no binary log (log_bin is off)")
        return Position(row[0], int(row[1]))

    def _consistent_snapshot(self, con: pymysql.connections.Connection) -> Position:
        """Start a snapshot transaction and return the binlog coordinates it is consistent with."""
        with con.cursor() as cur:
            cur.execute("set session transaction isolation level repeatable read")
            cur.execute("show global status like 'binlog_snapshot_file'")
            mariadb = cur.fetchone() is not None
            if mariadb:
                cur.execute("start transaction with consistent snapshot")
                cur.execute("show status like 'binlog_snapshot_%'")
                status = {name.lower(): value for name, value in cur.fetchall()}
                return Position(status["binlog_snapshot_file"], int(status["binlog_snapshot_position"]))
            # MySQL / Aurora: a short global read lock pins the coordinates while the snapshot opens.
            cur.execute("flush tables with read lock")
            try:
                position = self.current_source_position(con)
                cur.execute("start transaction with consistent snapshot")
            finally:
                cur.execute("unlock tables")
            return position

    # --- snapshot / resync -------------------------------------------------------------------------

    def resync(self, reason: str = "initial snapshot") -> Position:
        """Copy every table consistently and store the binlog position, all in one replica transaction."""
        log.info("zero-ETL resync of %s (%s)", self.database, reason)
        con = connect(self.source)
        try:
            self.check_source(con)
            position = self._consistent_snapshot(con)
            tables = self.describe_tables(con)
            data: dict[str, list[tuple[Any, ...]]] = {}
            with con.cursor() as cur:
                for name, table in tables.items():
                    if table.primary_key:
                        cols = ", ".join(f"`{c}`" for c in table.column_names)
                        cur.execute(f"select {cols} from `{self.database}`.`{name}`")
                        data[name] = list(cur.fetchall())
            con.commit()
        finally:
            con.close()
        self.initialise()
        with self.replica() as duck:
            duck.begin()
            existing = {r[0] for r in duck.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_catalog = ?",
                [self.database, self.zetl_db],
            ).fetchall()}
            for name in existing - set(data):
                duck.execute(f"drop table {quote(self.database)}.{quote(name)}")
            duck.execute(f"delete from {METADATA_SCHEMA}.integration_table_state where integration_id = ?",
                         [self.integration_id])
            for name, table in sorted(tables.items()):
                if not table.primary_key:
                    log.error("zero-ETL refuses %s.%s: %s", self.database, name, NO_PK_REASON)
                    self._set_state(duck, name, "Failed", position, NO_PK_REASON, None, table)
                    continue
                target = f"{quote(self.database)}.{quote(name)}"
                columns = ", ".join(f"{quote(c)} {t}" for c, t in table.columns)
                duck.execute(f"create or replace table {target} ({columns})")
                if data[name]:
                    marks = ", ".join(["?"] * len(table.columns))
                    duck.executemany(f"insert into {target} values ({marks})", data[name])
                self._set_state(duck, name, "Synced", position, None, len(data[name]), table)
            self._store_position(duck, position)
            self.fault_hook("resync_before_commit")
            duck.commit()
        self.tables = tables
        return position

    def _set_state(
        self, duck: duckdb.DuckDBPyConnection, table: str, state: str, position: Position,
        reason: str | None, rows: int | None, info: SourceTable | None = None,
    ) -> None:
        primary_key = ",".join(info.primary_key) if info else None
        updated = duck.execute(
            f"update {METADATA_SCHEMA}.integration_table_state set table_state = ?, "
            "table_last_replicated_checkpoint = ?, reason = ?, last_updated_timestamp = ?, "
            "table_rows = coalesce(?, table_rows) where integration_id = ? and table_name = ? returning 1",
            [state, position.checkpoint(), reason, datetime.now(UTC), rows, self.integration_id, table],
        ).fetchall()
        if not updated:
            duck.execute(
                f"insert into {METADATA_SCHEMA}.integration_table_state "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self.integration_id, self.zetl_db, self.database, table, state, position.checkpoint(),
                 reason, datetime.now(UTC), rows, primary_key],
            )

    def _store_position(self, duck: duckdb.DuckDBPyConnection, position: Position) -> None:
        duck.execute(f"delete from {METADATA_SCHEMA}.integration_position where integration_id = ?",
                     [self.integration_id])
        duck.execute(
            f"insert into {METADATA_SCHEMA}.integration_position values (?, ?, ?, ?)",
            [self.integration_id, position.log_file, position.log_pos, datetime.now(UTC)],
        )

    def mark_resync_required(self, reason: str, state: str = "ResyncRequired") -> None:
        """Every synced table -> ``state`` (ResyncRequired, or Failed when applying changes failed)."""
        with self.replica() as duck:
            duck.execute(
                f"update {METADATA_SCHEMA}.integration_table_state set table_state = ?, "
                "reason = ?, last_updated_timestamp = ? where integration_id = ? and table_state = 'Synced'",
                [state, reason, datetime.now(UTC), self.integration_id],
            )

    def mark_resync_initiated(self) -> None:
        """Tables waiting for a resync -> ResyncInitiated (the reason why they need it is kept)."""
        with self.replica() as duck:
            duck.execute(
                f"update {METADATA_SCHEMA}.integration_table_state set table_state = 'ResyncInitiated', "
                "last_updated_timestamp = ? where integration_id = ? and (table_state = 'ResyncRequired' "
                "or (table_state = 'Failed' and coalesce(reason, '') <> ?))",
                [datetime.now(UTC), self.integration_id, NO_PK_REASON],
            )

    # --- applying a batch --------------------------------------------------------------------------

    def apply(self, batch: Batch, position: Position) -> None:
        """One replica transaction: the batch's net changes, the position, the table states, the lag."""
        with self.replica() as duck:
            duck.begin()
            for name, changes in batch.changes.items():
                table = self.tables[name]
                target = f"{quote(self.database)}.{quote(name)}"
                where = " and ".join(f"{quote(c)} = ?" for c in table.primary_key)
                duck.executemany(f"delete from {target} where {where}", [list(pk) for pk in changes])
                rows = [[row[c] for c in table.column_names] for row in changes.values() if row is not None]
                if rows:
                    marks = ", ".join(["?"] * len(table.columns))
                    duck.executemany(f"insert into {target} values ({marks})", rows)
                count = scalar(duck, f"select count(*) from {target}")
                self._set_state(duck, name, "Synced", position, None, count)
            self._store_position(duck, position)
            applied_at = datetime.now(UTC)
            first = datetime.fromtimestamp(batch.first_commit or time.time(), UTC)
            last = datetime.fromtimestamp(batch.last_commit or time.time(), UTC)
            self._batch_seq += 1
            duck.execute(
                f"insert into {METADATA_SCHEMA}.replication_lag values (?, ?, ?, ?, ?, ?, ?, ?)",
                [self.integration_id, self._batch_seq, batch.transactions, batch.row_changes, first, last,
                 applied_at, max(0.0, (applied_at - first).total_seconds())],
            )
            self.fault_hook("apply_before_commit")
            duck.commit()

    def _add_rows(self, txn: list[tuple[str, Pk, dict[str, Any] | None]], event: Any) -> None:
        table = self.tables[event.table]
        for row in event.rows:
            if isinstance(event, WriteRowsEvent):
                txn.append((event.table, table.pk_of(row["values"]), dict(row["values"])))
            elif isinstance(event, DeleteRowsEvent):
                txn.append((event.table, table.pk_of(row["values"]), None))
            else:
                before, after = row["before_values"], row["after_values"]
                if table.pk_of(before) != table.pk_of(after):
                    txn.append((event.table, table.pk_of(before), None))
                txn.append((event.table, table.pk_of(after), dict(after)))

    # --- the stream --------------------------------------------------------------------------------

    def run(
        self,
        *,
        until_caught_up: bool = False,
        timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> RunReport:
        """Replicate: from the stored position (snapshot first when there is none) until caught up,
        ``timeout`` seconds, or ``stop`` is set."""
        report = RunReport()
        deadline = time.monotonic() + timeout if timeout else None
        self.initialise()
        while True:
            position = self.stored_position()
            states = self.table_states()
            needs_resync = any(
                state in ("ResyncRequired", "ResyncInitiated") or (state == "Failed" and reason != NO_PK_REASON)
                for state, reason in states.values()
            )
            if position is None or needs_resync:
                why = "initial snapshot" if position is None else "table marked ResyncRequired or Failed"
                if needs_resync:
                    # Visible while the snapshot runs (and after a crash in it), as SVV_INTEGRATION_TABLE_STATE.
                    self.mark_resync_initiated()
                position = self.resync(why)
                report.resyncs += 1
            else:
                con = connect(self.source)
                try:
                    self.check_source(con)
                    self.tables = self.describe_tables(con)
                finally:
                    con.close()
            report.refused = sorted(n for n, t in self.tables.items() if not t.primary_key)
            outcome = self._stream(position, report, until_caught_up, deadline, stop)
            if outcome != "resync":
                return report

    def _stream(
        self, position: Position, report: RunReport, until_caught_up: bool,
        deadline: float | None, stop: threading.Event | None,
    ) -> str:
        """Apply the binlog from ``position``: "caught_up", "stopped" or "resync" (the caller snapshots)."""
        target = self._source_position() if until_caught_up else None
        settings = {"host": self.source.host, "port": self.source.port, "user": self.source.user,
                    "password": self.source.password}
        stream = BinLogStreamReader(
            connection_settings=settings, server_id=self.server_id, resume_stream=True,
            log_file=position.log_file, log_pos=position.log_pos, blocking=True,
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, QueryEvent, RotateEvent,
                         HeartbeatLogEvent],
            only_schemas=[self.database], slave_heartbeat=self.heartbeat_seconds, enable_logging=False,
        )
        binlog = _BinlogPass(self, position, report, target=target, until_caught_up=until_caught_up,
                             deadline=deadline, stop=stop)
        try:
            for event in stream:
                outcome = binlog.on_event(event)
                if outcome is not None:
                    return outcome
            binlog.flush()
            return "stopped"
        finally:
            stream.close()

    def _source_position(self) -> Position:
        con = connect(self.source)
        try:
            return self.current_source_position(con)
        finally:
            con.close()

    def _is_ddl_here(self, event: QueryEvent) -> bool:
        query = event.query.strip().lower()
        if not query.startswith(DDL_PREFIXES):
            return False
        schema = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema)
        return schema == self.database or f"{self.database.lower()}." in query.replace("`", "")


class _BinlogPass:
    """One pass over the binlog: the open source transaction, the batch being built, the last commit seen.
    Each event handler returns an outcome ("caught_up", "stopped", "resync") or None to go on."""

    def __init__(
        self, replicator: Replicator, position: Position, report: RunReport, *, target: Position | None,
        until_caught_up: bool, deadline: float | None, stop: threading.Event | None,
    ) -> None:
        self.replicator = replicator
        self.report = report
        self.target = target
        self.until_caught_up = until_caught_up
        self.deadline = deadline
        self.stop = stop
        self.log_file = position.log_file
        self.committed = position
        self.batch = Batch()
        self.txn: list[tuple[str, Pk, dict[str, Any] | None]] = []

    def on_event(self, event: Any) -> str | None:
        outcome: str | None = None
        if isinstance(event, RotateEvent):
            self.log_file = event.next_binlog
        elif isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
            outcome = self._on_rows(event)
        elif isinstance(event, XidEvent) or (isinstance(event, QueryEvent) and event.query.strip().upper() == "COMMIT"):
            outcome = self._on_commit(event)
        elif isinstance(event, QueryEvent) and self.replicator._is_ddl_here(event):
            outcome = self._on_ddl(event)
        elif isinstance(event, HeartbeatLogEvent) and not self.txn:
            self.flush()
            outcome = "caught_up" if self.until_caught_up else None
        return outcome if outcome is not None else self._time_up()

    def _on_rows(self, event: Any) -> str | None:
        tables = self.replicator.tables
        if event.table in tables and tables[event.table].primary_key:
            self.replicator._add_rows(self.txn, event)
        elif event.table not in tables:
            self.txn.clear()
            self.flush()
            self.replicator.mark_resync_required(f"changes to a table new since last sync: {event.table}")
            return "resync"
        return None

    def _on_commit(self, event: Any) -> str | None:
        self.committed = Position(self.log_file, event.packet.log_pos)
        if self.txn:
            batch = self.batch
            for table, pk, row in self.txn:
                batch.changes.setdefault(table, {})[pk] = row
            batch.transactions += 1
            batch.row_changes += len(self.txn)
            batch.first_commit = batch.first_commit or event.timestamp
            batch.last_commit = event.timestamp
            self.report.transactions += 1
            self.report.row_changes += len(self.txn)
            self.txn = []
        replicator = self.replicator
        if self.batch and (time.monotonic() - self.batch.opened_at > replicator.batch_max_seconds
                           or self.batch.row_changes >= replicator.batch_max_changes):
            self.flush()
        if self.target is not None and self.committed >= self.target:
            self.flush()
            return "caught_up"
        return None

    def _on_ddl(self, event: Any) -> str:
        self.committed = Position(self.log_file, event.packet.log_pos)
        self.flush()
        statement = event.query.split()[0].upper()
        self.replicator.mark_resync_required(f"DDL on the source: {statement} statement")
        return "resync"

    def _time_up(self) -> str | None:
        """At the deadline or on stop: leave between transactions (never inside one, bounded)."""
        now = time.monotonic()
        if not ((self.deadline and now > self.deadline) or (self.stop and self.stop.is_set())):
            return None
        if not self.txn:
            self.flush()
            return "stopped"
        if self.deadline and now > self.deadline + 30:
            raise ZeroEtlError("a source transaction did not finish within 30 s of the deadline")
        return None

    def flush(self) -> None:
        """Apply the batch (rows, position, table states, lag) in one replica transaction."""
        if self.batch:
            replicator = self.replicator
            try:
                replicator.apply(self.batch, self.committed)
            except duckdb.Error as exc:
                # Nothing of the batch committed; the tables are Failed and the next run resyncs them.
                reason = f"applying changes failed: {type(exc).__name__}"
                replicator.mark_resync_required(reason, state="Failed")
                raise ZeroEtlError(f"zero-ETL {replicator.database}: {reason}; the next run resyncs") from exc
            self.report.batches += 1
            self.report.position = self.committed
        self.batch = Batch()


def ensure_replica(data_dir: Path, zetl_db: str, database: str = FRONT_DESK_DATABASE) -> Path:
    """An empty replica (schema, empty front-desk table, metadata) so dbt can attach it before any sync.

    No position is stored: the first replicator run still takes its snapshot. An existing file is left alone.
    """
    replicator = Replicator(MySqlSettings(database=database), data_dir, zetl_db)
    if replicator.replica_path.exists():
        return replicator.replica_path
    replicator.initialise()
    with replicator.replica() as con:
        columns = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in REPLICA_TYPES.items())
        con.execute(f"create table if not exists {quote(database)}.{quote(TABLE)} ({columns})")
    return replicator.replica_path


def replication_lag_summary(replica_path: Path) -> dict[str, float]:
    with duckdb.connect(str(replica_path), read_only=True) as con:
        row = fetch_row(
            con, f"select count(*), quantile_cont(lag_seconds, 0.5), quantile_cont(lag_seconds, 0.95), "
            f"max(lag_seconds) from {METADATA_SCHEMA}.replication_lag"
        )
    return {"batches": row[0], "p50_seconds": row[1], "p95_seconds": row[2], "max_seconds": row[3]}
