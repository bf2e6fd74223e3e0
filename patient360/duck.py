"""Small DuckDB helpers shared by the stand-ins and the readers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def fetch_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...]:
    """The one row an aggregate query returns (a query that returns none is a bug: say so)."""
    row = con.execute(sql, params or []).fetchone()
    if row is None:
        raise LookupError(f"no row from: {sql}")
    return row


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    return fetch_row(con, sql, params)[0]
