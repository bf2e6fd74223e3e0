"""Run one ViewDefinition against the local HealthLake stand-in and write a flat file (CSV or Parquet).

What ``patient360 sof run VIEW.json`` does (the CLI verb is wired by the CLI owner onto ``run_view``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from patient360.sql_on_fhir import _healthlake, schema
from patient360.sql_on_fhir.compile import compile_view
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.viewdef import parse_view

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class RunResult:
    rows: int
    out_path: Path
    sql: str


def run_view(view_path: Path, catalog: Path, out_path: Path, fmt: str, database: str | None = None) -> RunResult:
    """Compile ``view_path`` for DuckDB against the HealthLake catalog ``catalog`` (the ``awsdatacatalog``
    DuckDB file; datastore schema ``database``, by default the configured one), run it read-only and write
    its rows to ``out_path``."""
    database = database or _healthlake.default_database()
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}: one of {', '.join(FORMATS)}")
    try:
        raw = json.loads(view_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ViewDefinitionError(view_path.stem, str(view_path), f"cannot read the ViewDefinition: {exc}") from exc
    view = parse_view(raw, default_name=view_path.stem)
    if not catalog.exists():
        raise FileNotFoundError(f"no HealthLake catalog at {catalog}: run `patient360 healthlake import` first")
    with duckdb.connect(str(catalog), read_only=True) as con:
        table = _healthlake.table_name(database, view.resource)
        physical = schema.table_physical(con, table)
        if physical is None:
            raise ViewDefinitionError(view.name, "resource", f"no table {table} in {catalog}")
        sql = compile_view(view, table, physical)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        options = "format parquet" if fmt == "parquet" else "format csv, header true"
        escaped = str(out_path).replace("'", "''")
        con.execute(f"copy ({sql}) to '{escaped}' ({options})")
        (rows,) = con.execute(f"select count(*) from ({sql})").fetchone() or (0,)
    return RunResult(int(rows), out_path, sql)
