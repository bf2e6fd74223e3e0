"""A stand-in for redshift_connector: a connection that records every statement and answers dbt's catalog
queries as an empty database would (full build) or as a database holding every model would (incremental).

Only the shapes dbt-redshift reads are answered (schemas, relations, columns, test failure counts, source
freshness, materialized-view description); everything else returns no rows, as DDL and DML do.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = tuple[Any, ...]
# One VARCHAR oid for every column: dbt only compares the contract query's description with itself.
VARCHAR_OID = 1043
_current = threading.local()


def set_current_node(name: str | None) -> None:
    _current.node = name


def current_node() -> str:
    return getattr(_current, "node", None) or "<no node>"


@dataclass(frozen=True)
class Relation:
    database: str
    schema: str
    name: str
    kind: str  # table | view | materialized_view
    columns: tuple[tuple[str, str], ...]  # (name, data type)
    node: str


@dataclass
class WarehouseState:
    """What the catalog holds: nothing for a full build, every model for an incremental one."""

    relations: list[Relation]
    existing: bool
    contract_columns: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def schemas(self) -> list[str]:
        return sorted({r.schema for r in self.relations}) if self.existing else []

    def in_schema(self, schema: str) -> list[Relation]:
        if not self.existing:
            return []
        return [r for r in self.relations if r.schema.lower() == schema.lower()]

    def columns_of(self, identifier: str) -> tuple[tuple[str, str], ...]:
        base = re.split(r"__dbt_tmp|__dbt_backup", identifier)[0]
        for relation in self.relations:
            if relation.name.lower() == base.lower():
                return relation.columns
        return ()


@dataclass(frozen=True)
class Answer:
    columns: Sequence[str]
    rows: list[Row]


def _quoted_value(pattern: str, sql: str) -> str | None:
    found = re.search(pattern, sql, flags=re.IGNORECASE)
    return found.group(1) if found else None


def answer(sql: str, state: WarehouseState) -> Answer | None:
    """The result a Redshift holding `state` would give, for the catalog queries dbt reads; None = no rows."""
    lowered = sql.lower()
    for matches, respond in _ANSWERS:
        if matches(lowered):
            return respond(sql, state)
    return None


def _schemas(sql: str, state: WarehouseState) -> Answer:
    return Answer(["nspname"], [(schema,) for schema in state.schemas()])


def _relations(sql: str, state: WarehouseState) -> Answer:
    schema = _quoted_value(r"table_schema ilike '([^']+)'", sql) or ""
    rows = [(r.database, r.name, r.schema, r.kind) for r in state.in_schema(schema)]
    return Answer(["database", "name", "schema", "type"], rows)


def _columns(sql: str, state: WarehouseState) -> Answer:
    identifier = _quoted_value(r"table_name = '([^']+)'", sql) or ""
    rows = [(name, data_type, None, None, None) for name, data_type in state.columns_of(identifier)]
    names = ["column_name", "data_type", "character_maximum_length", "numeric_precision", "numeric_scale"]
    return Answer(names, rows)


def _test_result(sql: str, state: WarehouseState) -> Answer:
    return Answer(["failures", "should_warn", "should_error"], [(0, False, False)])


def _freshness(sql: str, state: WarehouseState) -> Answer:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return Answer(["max_loaded_at", "snapshotted_at"], [(now, now)])


def _empty_schema(sql: str, state: WarehouseState) -> Answer:
    columns = state.contract_columns.get(current_node(), ())
    return Answer([name for name, _ in columns], [])


def _mv_info(sql: str, state: WarehouseState) -> Answer:
    name = _quoted_value(r"tb\.table ilike '([^']+)'", sql) or ""
    schema = _quoted_value(r"tb\.schema ilike '([^']+)'", sql) or ""
    database = _quoted_value(r"tb\.database ilike '([^']+)'", sql) or ""
    return Answer(["database", "schema", "table", "diststyle", "sortkey1", "autorefresh"],
                  [(database, schema, name, "EVEN", None, "t")])


def _mv_definition(sql: str, state: WarehouseState) -> Answer:
    return Answer(["definition"], [("create materialized view",)])


_ANSWERS: list[tuple[Callable[[str], bool], Callable[[str, WarehouseState], Answer]]] = [
    (lambda s: "pg_backend_pid()" in s, lambda sql, state: Answer(["pg_backend_pid"], [(1,)])),
    (lambda s: "from pg_namespace" in s and "nspname" in s and "pg_proc" not in s, _schemas),
    (lambda s: "from information_schema.tables" in s, _relations),
    (lambda s: 'from information_schema."columns"' in s, _columns),
    (lambda s: "as should_error" in s, _test_result),
    (lambda s: "snapshotted_at" in s, _freshness),
    (lambda s: re.search(r"where\s+false\s+limit\s+0", s) is not None, _empty_schema),
    (lambda s: "from svv_table_info" in s, _mv_info),
    (lambda s: "from pg_views" in s, _mv_definition),
]


class FakeCursor:
    """Records each statement with the node it runs for; answers from the warehouse state."""

    def __init__(self, record: Callable[[str, str], None], state: WarehouseState) -> None:
        self._record = record
        self._state = state
        self._rows: list[Row] = []
        self.description: list[tuple[Any, ...]] | None = None
        self.rowcount = -1

    def execute(self, sql: str, bindings: Sequence[Any] | None = None) -> FakeCursor:
        statement = render_bindings(sql, bindings) if bindings else sql
        self._record(current_node(), statement)
        result = answer(statement, self._state)
        self._rows = list(result.rows) if result else []
        self.description = [(name, VARCHAR_OID, None, None, None, None, None) for name in result.columns] \
            if result else None
        self.rowcount = len(self._rows)
        return self

    def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int) -> list[Row]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    def close(self) -> None:
        self._rows = []

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class FakeConnection:
    def __init__(self, record: Callable[[str, str], None], state: WarehouseState) -> None:
        self._record = record
        self._state = state
        self.autocommit = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self._record, self._state)

    def commit(self) -> None:
        """dbt-redshift commits through the connection: Redshift would see COMMIT."""
        self._record(current_node(), "commit")

    def rollback(self) -> None:
        self._record(current_node(), "rollback")

    def close(self) -> None:
        """Nothing to release."""


def sql_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def render_bindings(sql: str, bindings: Sequence[Any]) -> str:
    """Seeds insert with %s placeholders. The driver sends them as parameters; they are inlined as literals here
    only so the recorded statement can be parsed and checked as one piece of SQL."""
    values = iter(bindings)
    return re.sub(r"%s", lambda _: sql_literal(next(values)), sql)
