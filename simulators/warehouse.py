"""Read access to the local warehouse with the same attachments as the dbt `local` profile."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from simulators.file_lock import advisory_lock
from simulators.settings import Settings


def connect_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Read-only connection to warehouse.duckdb with the source files attached as dbt has them."""
    if not settings.warehouse_path.exists():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse_path}: run `patient360 build` first")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    for alias, path in attached_sources(settings).items():
        if path.exists():  # the staging views read them
            con.execute(f"attach '{path}' as {alias} (read_only)")
    return con


def attached_sources(settings: Settings) -> dict[str, Path]:
    """The source files profiles.yml attaches, by alias (keep the two in step)."""
    zetl_db = os.environ.get("P360_ZETL_DB", "front_desk_zetl")
    return {
        "awsdatacatalog": settings.healthlake_catalog_path,
        zetl_db: settings.data_dir / f"{zetl_db}.duckdb",
        "stream_landing": settings.data_dir / "stream_landing.duckdb",
    }


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


def ensure_attached_sources(data_dir: Path) -> None:
    """Create (empty) every source file the `local` profile ATTACHes read-only: DuckDB cannot attach a
    missing file read-only, and a pipeline may build before one of its sources has delivered anything."""
    from simulators.wearables.producer import default_topic
    from simulators.zero_etl.replicator import ensure_replica
    from simulators.zero_etl.stream_landing import ensure_landing

    data_dir.mkdir(parents=True, exist_ok=True)
    catalog = data_dir / "awsdatacatalog.duckdb"
    if not catalog.exists():
        duckdb.connect(str(catalog)).close()
    ensure_replica(data_dir)
    ensure_landing(data_dir, default_topic())


@contextmanager
def source_read_locks(data_dir: Path, timeout_s: float = 300) -> Iterator[None]:
    """Shared locks on the files the local ingestor and replicator write, held for a whole dbt run: the
    writers wait between their batches instead of making dbt's read-only ATTACH fail mid-build."""
    from simulators.zero_etl.replicator import replica_lock_path
    from simulators.zero_etl.stream_landing import landing_lock

    zetl_db = os.environ.get("P360_ZETL_DB", "front_desk_zetl")
    with (
        landing_lock(data_dir, shared=True, timeout_s=timeout_s),
        advisory_lock(replica_lock_path(data_dir / f"{zetl_db}.duckdb"), shared=True, timeout_s=timeout_s),
    ):
        yield
