"""Read access to the local warehouse with the same attachments as the dbt `local` profile."""

from __future__ import annotations

import duckdb

from patient360.local_aws.attachments import attach_sources
from patient360.settings import Settings


class NoWarehouse(FileNotFoundError):
    """Nothing has been built yet."""


def connect_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Read-only connection to warehouse.duckdb with the source files attached as dbt has them."""
    if not settings.warehouse_path.exists():
        raise NoWarehouse(f"no warehouse at {settings.warehouse_path}: run `patient360 build` first")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    attach_sources(con, settings)
    return con


def relation_name(con: duckdb.DuckDBPyConnection, model: str) -> str:
    """Schema-qualified name of a dbt model in the warehouse (schemas carry the custom-schema suffix)."""
    rows = con.execute(
        "select table_schema from information_schema.tables where table_catalog = 'warehouse' "
        "and table_name = ?",
        [model],
    ).fetchall()
    if not rows:
        raise LookupError(f"model {model} is not built in the warehouse")
    return f'"{rows[0][0]}"."{model}"'


def has_model(settings: Settings, model: str) -> bool:
    if not settings.warehouse_path.exists():
        return False
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        try:
            relation_name(con, model)
        except LookupError:
            return False
    return True
