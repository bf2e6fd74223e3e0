"""The local export source: ``patient_360_sync`` in warehouse.duckdb (clear, or its masked analyst view).

Reads under the warehouse's shared lock (dbt holds the exclusive one while it builds), so a batch never sees a
half-built table; the batch's SQL is the same text the Data API runs on Redshift, with literals.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

import duckdb

from patient360.locks import advisory_lock
from patient360.settings import Settings
from patient360.sync.profiles import SYNC_MODEL, ExportProfile
from patient360.sync.redshift_sql import select_batch, select_upper_bound
from patient360.warehouse import NoWarehouse


class DuckDbSource:
    def __init__(self, settings: Settings, profile: ExportProfile, lock_timeout_s: float = 600) -> None:
        if not settings.warehouse_path.exists():
            raise NoWarehouse(f"no warehouse at {settings.warehouse_path}: run `patient360 build` first")
        self.settings, self.profile, self.lock_timeout_s = settings, profile, lock_timeout_s

    def _connect(self) -> tuple[duckdb.DuckDBPyConnection, str]:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        rows = con.execute(
            "select table_schema from information_schema.tables where table_catalog = 'warehouse' "
            "and table_name = ? and table_schema not like '%_analyst' order by table_schema", [SYNC_MODEL],
        ).fetchall()
        if not rows:
            con.close()
            raise NoWarehouse(f"{SYNC_MODEL} is not built in {self.settings.warehouse_path}: run `patient360 build`")
        return con, f'"{self.profile.local_schema(rows[0][0])}"."{SYNC_MODEL}"'

    def _lock(self) -> AbstractContextManager[None]:
        return advisory_lock(self.settings.data_dir / "warehouse.lock", shared=True, timeout_s=self.lock_timeout_s)

    def upper_bound(self, after: datetime | None) -> tuple[datetime | None, int]:
        with self._lock():
            con, relation = self._connect()
            with con:
                row = con.execute(select_upper_bound(relation, after=after, named_params=False)).fetchone()
        return (row[0], int(row[1])) if row else (None, 0)

    def write_parquet(self, after: datetime | None, upto: datetime, path: Path) -> int:
        with self._lock():
            con, relation = self._connect()
            with con:
                query = select_batch(relation, after=after, upto=upto, named_params=False)
                literal = str(path).replace("'", "''")
                con.execute(f"copy ({query}) to '{literal}' (format parquet)")
                row = con.execute(f"select count(*) from read_parquet('{literal}')").fetchone()
        return int(row[0]) if row else 0
