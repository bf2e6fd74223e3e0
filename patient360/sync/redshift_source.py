"""The Redshift export source: ``<schema>_marts.patient_360_sync`` through the Data API (incremental), and
UNLOAD for the initial export (Redshift writes the Parquet files to S3 itself, in parallel, plus a manifest).

The analytics profile reads the same table as a database user holding the analyst role, so Redshift's dynamic
data masking applies (P360_REDSHIFT_DB_USER / P360_REDSHIFT_SECRET_ARN of that user).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from patient360.settings import Settings, SyncSettings
from patient360.sync.destinations import Destination, S3Destination
from patient360.sync.export import Batch, batch_name
from patient360.sync.profiles import SYNC_MODEL
from patient360.sync.redshift_data_api import RedshiftDataApi
from patient360.sync.redshift_sql import (
    check_redshift_statement,
    identifier,
    select_batch,
    select_upper_bound,
    unload_statement,
)
from patient360.sync.watermark import Watermark, state_path, store_watermark

_DUCK_TYPES = {str: "varchar", int: "bigint", float: "double", bool: "boolean", bytes: "blob"}


def sync_relation(sync: SyncSettings) -> str:
    """Where dbt builds the model on Redshift: the marts custom schema, `<target schema>_marts`."""
    return f"{identifier(sync.redshift_schema + '_marts')}.{SYNC_MODEL}"


def _param(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(sep=" ")


def _parse_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def write_rows_parquet(columns: list[str], rows: list[tuple[Any, ...]], path: Path) -> int:
    """Data API rows -> one Parquet file (types from the values: the API returns timestamps as text)."""
    types = []
    for position, column in enumerate(columns):
        sample = next((row[position] for row in rows if row[position] is not None), "")
        types.append(f'"{column}" {_DUCK_TYPES.get(type(sample), "varchar")}')
    with duckdb.connect() as con:
        con.execute(f"create table batch ({', '.join(types)})")
        if rows:
            con.executemany(f"insert into batch values ({', '.join('?' for _ in columns)})", rows)
        con.execute(f"copy batch to '{str(path).replace(chr(39), chr(39) * 2)}' (format parquet)")
    return len(rows)


class RedshiftSource:
    def __init__(self, api: RedshiftDataApi, sync: SyncSettings) -> None:
        self.api, self.relation = api, sync_relation(sync)

    def upper_bound(self, after: datetime | None) -> tuple[datetime | None, int]:
        sql = select_upper_bound(self.relation, after=after, named_params=True)
        check_redshift_statement(sql, node="sync.upper_bound")
        _, rows = self.api.query(sql, {"after": _param(after)} if after else None)
        return (_parse_time(rows[0][0]), int(rows[0][1])) if rows else (None, 0)

    def write_parquet(self, after: datetime | None, upto: datetime, path: Path) -> int:
        sql = select_batch(self.relation, after=after, upto=upto, named_params=True)
        check_redshift_statement(sql, node="sync.incremental_batch")
        parameters = {"upto": _param(upto), **({"after": _param(after)} if after else {})}
        columns, rows = self.api.query(sql, parameters)
        return write_rows_parquet(columns, rows, path)

    def unload(self, upto: datetime, to_url: str, iam_role_arn: str | None) -> int:
        """Initial export by UNLOAD to ``to_url`` (a file prefix); returns the rows Redshift reports."""
        sql = unload_statement(self.relation, upto=upto, to_url=to_url, iam_role_arn=iam_role_arn)
        check_redshift_statement(sql, node="sync.unload_initial")
        return int(self.api.run(sql).get("ResultRows", 0))


def unload_initial(source: RedshiftSource, destination: Destination, *, settings: Settings, sync: SyncSettings,
                   profile: str) -> Batch | None:
    """UNLOAD every row up to the current upper bound, then store that bound as the watermark."""
    if not isinstance(destination, S3Destination):
        raise ValueError("on Redshift the initial export is an UNLOAD: the destination must be s3://bucket/prefix")
    started = time.monotonic()
    upto, _ = source.upper_bound(None)
    if upto is None:
        return None
    name = batch_name(profile, None, upto).removesuffix(".parquet")
    prefix = destination.location.url(f"{name}/part_")
    rows = source.unload(upto, prefix, sync.iam_role_arn)
    state = state_path(settings.data_dir / "sync" / "state", destination.describe(), profile)
    store_watermark(state, Watermark(upto, 1, rows))
    return Batch(name, rows, None, upto, prefix, time.monotonic() - started)
