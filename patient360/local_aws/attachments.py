"""The local source files dbt's `local` profile ATTACHes (profiles/profiles.yml): the HealthLake catalog, the
zero-ETL replica and the stream landing, under the names Redshift gives the same relations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from patient360.local_aws.streaming.kinesis import landing as kinesis_landing
from patient360.local_aws.streaming.landing import ensure_landing, landing_lock
from patient360.local_aws.zero_etl.replicator import ensure_replica, replica_lock_path
from patient360.locks import advisory_lock
from patient360.settings import Settings


def attached_sources(settings: Settings) -> dict[str, Path]:
    """The source files profiles.yml attaches, by alias (keep the two in step)."""
    return {
        "awsdatacatalog": settings.healthlake_catalog_path,
        settings.zetl_db: settings.replica_path,
        "stream_landing": settings.landing_path,
    }


def attach_sources(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Attach the existing source files read-only, as dbt has them (the staging views read them)."""
    for alias, path in attached_sources(settings).items():
        if path.exists():
            con.execute(f"attach '{path}' as \"{alias}\" (read_only)")


def ensure_attached_sources(settings: Settings) -> None:
    """Create (empty) every source file the `local` profile ATTACHes read-only: DuckDB cannot attach a
    missing file read-only, and a pipeline may build before one of its sources has delivered anything."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.healthlake_catalog_path.exists():
        duckdb.connect(str(settings.healthlake_catalog_path)).close()
    ensure_replica(settings.data_dir, settings.zetl_db)
    ensure_landing(settings.data_dir, settings.kafka.topic, settings.kafka.external_schema)
    # Both stream kinds' tables: the sources of either kind resolve whichever P360_STREAM_KIND selects.
    kinesis_landing.ensure_landing(settings.data_dir, settings.kinesis.stream, settings.kinesis.external_schema)


@contextmanager
def source_read_locks(settings: Settings, timeout_s: float = 300) -> Iterator[None]:
    """Shared locks on the files the local ingestor and replicator write, held for a whole dbt run: the
    writers wait between their batches instead of making dbt's read-only ATTACH fail mid-build."""
    with (
        landing_lock(settings.data_dir, shared=True, timeout_s=timeout_s),
        advisory_lock(replica_lock_path(settings.replica_path), shared=True, timeout_s=timeout_s),
    ):
        yield
