"""The HealthLake stand-in's datastore: the current version of every resource, and tombstones of deletes.

One DuckDB file per datastore (``<data_dir>/healthlake/<db>/datastore.duckdb``): DuckDB keeps the store
on disk and spills to disk past its memory limit, so an import of any size holds only one batch of
resources in Python at a time. A job is one transaction: a failed job leaves the datastore as it was.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import duckdb
import orjson

from patient360.local_aws.healthlake.versions import Version, supersedes

MEMORY_LIMIT = "256MB"  # the store's DuckDB spills to disk past it: its footprint stays flat as exports grow
FETCH_ROWS = 50_000  # positions per range read back (rows of one range are held at once)

SCHEMA = """
create table if not exists resources (
    resource_type varchar not null,
    id varchar not null,
    position bigint not null,          -- first-import order: tables list resources in it
    source_last_updated varchar,       -- meta.lastUpdated as the export stated it (UTC), for ordering
    version_id varchar,                -- meta.versionId as the export stated it
    deleted boolean not null,          -- a tombstone: deleted, kept so an older copy does not come back
    job_id varchar not null,
    body varchar                       -- the stored JSON (null for a tombstone)
)
"""


@dataclass(frozen=True)
class Item:
    """A resource to store (``body``) or a delete (``body`` None) of ``resource_type``/``resource_id``."""

    resource_type: str
    resource_id: str
    version: Version
    body: str | None


@dataclass
class Outcome:
    stored: Counter[str] = field(default_factory=Counter)
    skipped_older: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    deletes_not_found: Counter[str] = field(default_factory=Counter)
    deletes_skipped_older: Counter[str] = field(default_factory=Counter)


@dataclass
class _State:
    version: Version
    position: int


class Datastore:
    """``with Datastore(path, job_id) as store: store.apply(items)``: commits when the block succeeds."""

    def __init__(self, path: Path, job_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path))
        limit_memory(self._con, path)
        self._con.execute(SCHEMA)
        self._job_id = job_id
        first_free = self._con.execute("select coalesce(max(position), 0) + 1 from resources").fetchone()
        self._next_position = int(first_free[0]) if first_free else 1
        self.outcome = Outcome()
        self.touched: set[str] = set()

    def __enter__(self) -> Datastore:
        self._con.execute("begin transaction")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._con.execute("rollback" if exc_type else "commit")
        finally:
            self._con.close()

    def apply(self, items: list[Item]) -> None:
        """One batch, in order: each item replaces the stored copy only when it supersedes it."""
        if not items:
            return
        states = self._stored_states({(i.resource_type, i.resource_id) for i in items})
        stored_keys = set(states)  # only these have a row to replace (most keys of a first import do not)
        winners: dict[tuple[str, str], tuple[Item, int]] = {}
        for item in items:
            key = (item.resource_type, item.resource_id)
            state = states.get(key)
            if state is not None and not supersedes(item.version, state.version):
                counter = self.outcome.skipped_older if item.body is not None else self.outcome.deletes_skipped_older
                counter[item.resource_type] += 1
                continue
            self._count(item, state)
            position = state.position if state is not None else self._take_position()
            states[key] = _State(item.version, position)
            winners[key] = (item, position)
            self.touched.add(item.resource_type)
        self._write(list(winners.values()), stored_keys & set(winners))

    def _count(self, item: Item, state: _State | None) -> None:
        if item.body is not None:
            self.outcome.stored[item.resource_type] += 1
        elif state is None or state.version.deleted:
            self.outcome.deletes_not_found[item.resource_type] += 1
        else:
            self.outcome.deleted[item.resource_type] += 1

    def _take_position(self) -> int:
        self._next_position += 1
        return self._next_position - 1

    def _stored_states(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], _State]:
        with _ndjson([{"t": t, "i": i} for t, i in keys]) as path:
            rows = self._con.execute(
                "select r.resource_type, r.id, r.source_last_updated, r.version_id, r.deleted, r.position "
                "from resources as r inner join read_json(?, columns = {t: 'VARCHAR', i: 'VARCHAR'}) as k "
                "on r.resource_type = k.t and r.id = k.i", [str(path)],
            ).fetchall()
        return {(t, i): _State(Version(lu, v, bool(d)), int(p)) for t, i, lu, v, d, p in rows}

    def _write(self, winners: list[tuple[Item, int]], replaced: set[tuple[str, str]]) -> None:
        rows: list[dict[str, object]] = [
            {"t": item.resource_type, "i": item.resource_id, "p": position, "lu": item.version.last_updated,
             "v": item.version.version_id, "d": item.body is None, "b": item.body}
            for item, position in winners
        ]
        columns = "{t: 'VARCHAR', i: 'VARCHAR', p: 'BIGINT', lu: 'VARCHAR', v: 'VARCHAR', d: 'BOOLEAN', b: 'VARCHAR'}"
        with _ndjson(rows) as path:
            self._con.execute(
                f"create or replace temp table winners as select * from read_json(?, columns = {columns})", [str(path)]
            )
        if replaced:
            self._con.execute("delete from resources using winners where resources.resource_type = winners.t "
                              "and resources.id = winners.i")
        self._con.execute("insert into resources select t, i, p, lu, v, d, ?, b from winners", [self._job_id])



def current_bodies(path: Path, resource_type: str) -> Iterator[str]:
    """The current (not deleted) resources of a type, in first-import order, streamed by ranges of
    positions (each range sorted on its own: sorting them all at once would not fit the memory limit)."""
    if not path.exists():
        return
    with duckdb.connect(str(path), read_only=True) as con:
        limit_memory(con, path)
        bounds = con.execute(
            "select min(position), max(position) from resources where resource_type = ?", [resource_type]
        ).fetchone()
        if bounds is None or bounds[0] is None:
            return
        for start in range(int(bounds[0]), int(bounds[1]) + 1, FETCH_ROWS):
            rows = con.execute(
                "select body from resources where resource_type = ? and not deleted and position >= ? "
                "and position < ? order by position", [resource_type, start, start + FETCH_ROWS],
            ).fetchall()
            for (body,) in rows:
                yield body


def limit_memory(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The store's memory limit, with a spill folder next to it (a read-only connection has none)."""
    spill = path.with_name(path.name + ".spill")
    spill.mkdir(exist_ok=True)
    con.execute(f"set temp_directory = '{spill}'")
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")


@contextmanager
def _ndjson(rows: list[dict[str, object]]) -> Iterator[Path]:
    """A temporary NDJSON file of ``rows`` (DuckDB reads a batch from it faster than row inserts)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".ndjson", delete=False) as tmp:
        tmp.write(b"\n".join(map(orjson.dumps, rows)))  # one batch: bounded
    try:
        yield Path(tmp.name)
    finally:
        Path(tmp.name).unlink()
