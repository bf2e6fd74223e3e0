"""The bulk importer as it was before the fast path (commit 00129a6), kept only for bench/fhir_throughput.py:
its reading, parsing and table writing as they were; what has not changed since is imported.

Do not use it elsewhere: patient360/local_aws/healthlake/bulk_import.py is the importer.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from patient360.console import progress_bar
from patient360.local_aws.healthlake import layout

# What did not change since: the checks' patterns, the rejection record, validation, file naming, paths.
from patient360.local_aws.healthlake.bulk_import import (
    FHIR_ID_PATTERN,
    IMPORT_LOG_SCHEMA,
    RESOURCE_TYPE_PATTERN,
    FhirValidator,
    Rejection,
    catalog_path,
    datastore_dir,
    duckdb_struct_literal,
    expected_type_from_filename,
)


@dataclass
class ImportReport:
    job_id: str
    database: str
    lines_read: int = 0
    loaded: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def loaded_total(self) -> int:
        return sum(self.loaded.values())

    def summary(self) -> str:
        per_type = ", ".join(f"{t}={n}" for t, n in sorted(self.loaded.items())) or "none"
        return (
            f"import job {self.job_id}: {self.lines_read} lines read, {self.loaded_total} resources loaded "
            f"({per_type}), {len(self.rejected)} rejected"
        )


def check_line(text: str, expected_type: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one NDJSON line: (resource, None) when acceptable, (None, reason) when not."""
    try:
        resource = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(resource, dict):
        return None, f"not a FHIR resource: a JSON {type(resource).__name__}, expected an object"
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not RESOURCE_TYPE_PATTERN.match(resource_type):
        return None, "not a FHIR resource: missing or invalid resourceType"
    if expected_type and resource_type != expected_type:
        return None, f"wrong resource type: {resource_type} in a {expected_type} file"
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not FHIR_ID_PATTERN.match(resource_id):
        return None, "resource has no valid id"
    return resource, None


def import_bulk_export(
    source: Path,
    data_dir: Path,
    database: str,
    *,
    validate: bool = False,
    show_progress: bool = False,
) -> ImportReport:
    """Import every ``*.ndjson`` under ``source`` (a folder or one file) into the datastore."""
    files = sorted(source.glob("*.ndjson")) if source.is_dir() else [source]
    if not files:
        raise FileNotFoundError(f"no *.ndjson files in {source}")
    validator = FhirValidator() if validate else None
    report = ImportReport(job_id=uuid.uuid4().hex[:12], database=database)
    store = datastore_dir(data_dir, database)
    accepted: dict[str, list[str]] = {}

    with progress_bar(show_progress) as progress:
        task = progress.add_task("importing FHIR", total=sum(f.stat().st_size for f in files))
        for path in files:
            expected = expected_type_from_filename(path)
            with path.open(encoding="utf-8", errors="replace") as lines:
                for number, text in enumerate(lines, start=1):
                    progress.advance(task, len(text.encode("utf-8", errors="replace")))
                    if not text.strip():
                        continue
                    report.lines_read += 1
                    resource, reason = check_line(text, expected)
                    if resource is not None and validator is not None:
                        reason = validator.problems(resource)
                    if reason is not None:
                        rtype = resource.get("resourceType") if resource else expected
                        report.rejected.append(Rejection(path.name, number, reason, rtype))
                        continue
                    assert resource is not None
                    accepted.setdefault(resource["resourceType"], []).append(text.strip())
                    report.loaded[resource["resourceType"]] += 1

    for resource_type, lines in accepted.items():
        type_dir = store / resource_type
        type_dir.mkdir(parents=True, exist_ok=True)
        # Names sort in import order: the datastore's "last write wins" reads them in that order.
        batch_file = type_dir / f"{time.time_ns():020d}-{report.job_id}.ndjson"
        batch_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rebuild_tables(data_dir, database, sorted(accepted))
    log_job(data_dir, report, source)
    return report


def stored_resources(data_dir: Path, database: str, resource_type: str) -> dict[str, dict[str, Any]]:
    """Current version of each resource: files in import order, the last write of an id wins."""
    current: dict[str, dict[str, Any]] = {}
    type_dir = datastore_dir(data_dir, database) / resource_type
    for path in sorted(type_dir.glob("*.ndjson")):
        with path.open(encoding="utf-8") as lines:
            for text in lines:
                resource = json.loads(text)
                current[resource["id"]] = resource
    return current


def rebuild_tables(data_dir: Path, database: str, resource_types: list[str]) -> None:
    """(Re)create ``<database>.<type>`` for each type from the datastore's files."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog_path(data_dir))) as con:
        con.execute(f'create schema if not exists "{database}"')
        existing = {
            name for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [database]
            ).fetchall()
        }
        # A HealthLake datastore exposes a table for every resource type, even an empty one.
        missing = [t for t in layout.BASE_SCHEMAS if layout.table_name(t) not in existing]
        for resource_type in sorted(set(resource_types) | set(missing)):
            rows = [layout.normalize(r) for r in stored_resources(data_dir, database, resource_type).values()]
            write_table(con, database, resource_type, rows)


def write_table(
    con: duckdb.DuckDBPyConnection, database: str, resource_type: str, rows: list[dict[str, Any]]
) -> None:
    table_type: layout.FhirType = layout.BASE_SCHEMAS.get(resource_type) or layout.BASE_SCHEMAS_COMMON
    for row in rows:
        table_type = layout.merge_types(table_type, layout.infer_type(row))
    assert isinstance(table_type, layout.Struct)
    columns = {name: layout.duckdb_type(t) for name, t in table_type.fields}
    table = f'"{database}"."{layout.table_name(resource_type)}"'
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", encoding="utf-8", delete=False) as tmp:
        for row in rows:
            tmp.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
            tmp.write("\n")
    try:
        con.execute(
            f"create or replace table {table} as select * from read_json(?, format = 'newline_delimited', "
            f"columns = {duckdb_struct_literal(columns)}, maximum_object_size = 104857600)",
            [tmp.name],
        )
    finally:
        Path(tmp.name).unlink()


def log_job(data_dir: Path, report: ImportReport, source: Path) -> None:
    with duckdb.connect(str(catalog_path(data_dir))) as con:
        con.execute(f"create schema if not exists {IMPORT_LOG_SCHEMA}")
        con.execute(
            f"create table if not exists {IMPORT_LOG_SCHEMA}.jobs (job_id varchar primary key, "
            "datastore varchar, source varchar, submitted_at timestamptz, lines_read bigint, "
            "resources_loaded bigint, resources_rejected bigint)"
        )
        con.execute(
            f"create table if not exists {IMPORT_LOG_SCHEMA}.rejected_resources (job_id varchar, "
            "file varchar, line bigint, resource_type varchar, reason varchar)"
        )
        con.execute(
            f"insert into {IMPORT_LOG_SCHEMA}.jobs values (?, ?, ?, ?, ?, ?, ?)",
            [report.job_id, report.database, str(source), datetime.now(UTC), report.lines_read,
             report.loaded_total, len(report.rejected)],
        )
        if report.rejected:
            con.executemany(
                f"insert into {IMPORT_LOG_SCHEMA}.rejected_resources values (?, ?, ?, ?, ?)",
                [[report.job_id, r.file, r.line, r.resource_type, r.reason] for r in report.rejected],
            )
