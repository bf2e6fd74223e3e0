"""`patient360 sync import-engagement SOURCE`: the activation platform's outreach events written back.

SOURCE is a CSV or Parquet file, a folder of them, or an ``s3://bucket/prefix`` (the S3 stand-in locally).
Each file lands whole in ``<engagement schema>.outreach_events`` with every value as text (COPY on Redshift,
through the Data API in one transaction; locally the same rows inserted into warehouse.duckdb); a re-import of
a file replaces its rows. Validation (unknown patient, bad time, unknown event type) is dbt's: the rows are
quarantined with their reason in ``outreach_events_quarantine``, never refused here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from patient360.locks import advisory_lock
from patient360.settings import Settings, SyncSettings
from patient360.sync.redshift_data_api import RedshiftDataApi
from patient360.sync.redshift_sql import (
    ENGAGEMENT_COLUMNS,
    check_redshift_statement,
    copy_engagement_statements,
    engagement_table_ddl,
    identifier,
)
from patient360.sync.s3 import S3Location, list_keys, s3_client

FORMATS = {".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class EngagementFile:
    origin: str  # the path or s3:// URL, kept with each row
    local: Path
    file_format: str


@dataclass(frozen=True)
class ImportReport:
    files: int
    rows: int


def file_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{name}: engagement files are .csv or .parquet")
    return FORMATS[suffix]


def _local_files(source: Path) -> list[EngagementFile]:
    if not source.exists():
        raise FileNotFoundError(f"no engagement file or folder at {source}")
    paths = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.suffix.lower() in FORMATS)
    if not paths:
        raise FileNotFoundError(f"no .csv or .parquet engagement files in {source}")
    return [EngagementFile(str(p.resolve()), p, file_format(p.name)) for p in paths]


@contextmanager
def engagement_files(source: str, sync: SyncSettings) -> Iterator[list[EngagementFile]]:
    """The files of SOURCE, downloaded to a scratch folder when they are on S3."""
    if not source.startswith("s3://"):
        yield _local_files(Path(source).expanduser())
        return
    location = S3Location.parse(source)
    client = s3_client(sync.s3_endpoint_url, sync.region)
    keys = [key for key in list_keys(client, location) if Path(key).suffix.lower() in FORMATS]
    if not keys:
        raise FileNotFoundError(f"no .csv or .parquet engagement files under {source}")
    with tempfile.TemporaryDirectory(prefix="p360-engagement-") as scratch:
        files = []
        for number, key in enumerate(keys):
            local = Path(scratch) / f"{number}{Path(key).suffix.lower()}"
            client.download_file(location.bucket, key, str(local))
            files.append(EngagementFile(f"s3://{location.bucket}/{key}", local, file_format(key)))
        yield files


def _reader(file: EngagementFile) -> str:
    path = str(file.local).replace("'", "''")
    if file.file_format == "csv":
        return f"read_csv('{path}', header = true, all_varchar = true)"
    return f"read_parquet('{path}')"


def _load_file(con: duckdb.DuckDBPyConnection, table: str, file: EngagementFile) -> int:
    columns = {row[0] for row in con.execute(f"describe select * from {_reader(file)}").fetchall()}
    missing = [column for column in ENGAGEMENT_COLUMNS if column not in columns]
    if missing:
        needed = ", ".join(ENGAGEMENT_COLUMNS)
        raise ValueError(f"{file.origin}: missing column(s) {', '.join(missing)} (needs {needed})")
    texts = ", ".join(f"cast({column} as varchar)" for column in ENGAGEMENT_COLUMNS)
    con.execute(f"delete from {table} where source_file = ?", [file.origin])
    con.execute(
        f"insert into {table} select {texts}, ?, cast(row_number() over () as integer), "
        f"cast(now() as timestamp) from {_reader(file)}", [file.origin],
    )
    row = con.execute(f"select count(*) from {table} where source_file = ?", [file.origin]).fetchone()
    return int(row[0]) if row else 0


def import_local(settings: Settings, sync: SyncSettings, files: list[EngagementFile]) -> ImportReport:
    """Into warehouse.duckdb, one transaction, under the warehouse's exclusive lock (no dbt mid-build)."""
    table = f"{identifier(sync.engagement_schema)}.outreach_events"
    rows = 0
    with (
        advisory_lock(settings.data_dir / "warehouse.lock", shared=False, timeout_s=600),
        duckdb.connect(str(settings.warehouse_path)) as con,
    ):
        con.execute("begin")
        for statement in engagement_table_ddl(sync.engagement_schema):
            con.execute(statement)
        for file in files:
            rows += _load_file(con, table, file)
        con.execute("commit")
    return ImportReport(len(files), rows)


def import_redshift(api: RedshiftDataApi, sync: SyncSettings, source: str) -> ImportReport:
    """COPY from S3, one Data API batch (one transaction) per file; Redshift reads S3 itself."""
    client = s3_client(sync.s3_endpoint_url, sync.region)
    location = S3Location.parse(source)
    keys = [key for key in list_keys(client, location) if Path(key).suffix.lower() in FORMATS]
    rows = 0
    for key in keys:
        statements = copy_engagement_statements(
            sync.engagement_schema, from_url=f"s3://{location.bucket}/{key}", file_format=file_format(key),
            iam_role_arn=sync.iam_role_arn,
        )
        for statement in statements:
            check_redshift_statement(statement, node="sync.import_engagement")
        rows += int(api.run_batch(statements).get("ResultRows", 0) or 0)
    return ImportReport(len(keys), rows)
