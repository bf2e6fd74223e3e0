"""Import a FHIR bulk-export folder (NDJSON) into the local HealthLake stand-in.

What HealthLake's StartFHIRImportJob does, locally:
  * every ``*.ndjson`` file is read line by line; a bad line (not JSON, not a resource, wrong resource
    type for the file, no valid id, optionally invalid FHIR R4) is rejected with file, line and reason,
    and the good lines still load;
  * like HealthLake, every accepted resource gets ``meta.lastUpdated`` set to the job's time;
  * accepted resources are kept as the datastore's files (``<data_dir>/healthlake/<db>/<Type>/``),
    later imports upsert by id (last write wins), like HealthLake;
  * each touched resource type's table ``awsdatacatalog.<db>.<type>`` is rebuilt in the HealthLake
    layout (see ``layout``); the job and its rejections are logged in
    ``healthlake_import_log.jobs`` / ``healthlake_import_log.rejected_resources``.

Speed: each line is parsed once in Python (orjson), to validate it. Tables are built by DuckDB from the
stored NDJSON itself: the type comes from ``json_structure`` of each distinct row shape, the rows are read
with their camelCase keys into the lowercase table type. Where DuckDB could not be exact (a JSON fallback
column, keys differing only by case, odd extensions) the table is built row by row in Python, as before;
both give the same table (tests/python/test_healthlake_import_fast_path.py).

Reasons never quote the line's content: it is PHI.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import orjson

from patient360.console import progress_bar
from patient360.duck import scalar
from patient360.local_aws.healthlake import layout

RESOURCE_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
FHIR_ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
IMPORT_LOG_SCHEMA = "healthlake_import_log"
MAX_OBJECT_SIZE = 104857600


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int
    reason: str
    resource_type: str | None = None


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


class FhirValidator:
    """Optional strict check with the ``fhir.resources`` models (R4B: the R4-compatible release)."""

    def __init__(self) -> None:
        try:
            from fhir.resources.R4B import get_fhir_model_class
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("validation needs the 'fhir.resources' package: pip install -e '.[dev]'") from exc
        self._model_class = get_fhir_model_class

    def problems(self, resource: dict[str, Any]) -> str | None:
        from pydantic import ValidationError

        try:
            self._model_class(resource["resourceType"]).model_validate(resource)
        except KeyError:
            return f"unknown FHIR resource type {resource['resourceType']!r}"
        except ValidationError as exc:
            # include_input=False: pydantic would otherwise echo the offending (PHI) values.
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            return f"invalid FHIR R4: {where}: {first['msg']} ({exc.error_count()} problem(s))"
        return None


def expected_type_from_filename(path: Path) -> str | None:
    """Bulk export names files ``<ResourceType>.<n>.ndjson``; other names accept any type."""
    prefix = path.name.split(".", 1)[0]
    return prefix if RESOURCE_TYPE_PATTERN.match(prefix) else None


def parse_json(text: str) -> Any:
    """orjson when it can (fast); the standard library for what orjson refuses (integers beyond 64 bits,
    lone surrogates) and for its error messages (raises ``json.JSONDecodeError``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def stamped(resource: dict[str, Any], last_updated: str) -> str:
    """The resource as stored: like HealthLake, a write sets ``meta.lastUpdated`` (what `dbt source freshness`
    reads)."""
    resource.setdefault("meta", {})["lastUpdated"] = last_updated
    try:
        return orjson.dumps(resource).decode("utf-8")
    except orjson.JSONEncodeError:  # what orjson refuses to write (integers beyond 64 bits, lone surrogates)
        return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


def check_line(text: str, expected_type: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one NDJSON line: (resource, None) when acceptable, (None, reason) when not."""
    try:
        resource = parse_json(text)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON ({exc.msg} at column {exc.colno})"
    return check_resource(resource, expected_type)


def check_resource(resource: Any, expected_type: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(resource, None) when ``resource`` is an acceptable FHIR resource, (None, reason) when not."""
    if not isinstance(resource, dict):
        return None, f"not a FHIR resource: a JSON {type(resource).__name__}, expected an object"
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not RESOURCE_TYPE_PATTERN.match(resource_type):
        return None, "not a FHIR resource: missing or invalid resourceType"
    if expected_type and resource_type != expected_type:
        return None, f"wrong resource type: {resource_type} in a {expected_type} file"
    resource_id = resource.get("id")
    # A Bundle is not stored: its entries are (each with its own id); a transaction bundle often has none.
    if resource_type == "Bundle" and resource_id is None:
        pass
    elif not isinstance(resource_id, str) or not FHIR_ID_PATTERN.match(resource_id):
        return None, "resource has no valid id"
    if not isinstance(resource.get("meta", {}), dict):
        return None, "resource meta is not a JSON object"
    return resource, None


FULL_URL_SYSTEM = "urn:ietf:rfc:3986"  # FHIR: an identifier whose value is a URI (here a bundle entry's fullUrl)


def bundle_entries(resource: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """A resource as the resources it stores: itself, or for a Bundle its entries' resources.

    A bundle entry's ``fullUrl`` (often ``urn:uuid:...``, what the bundle's references use) is kept as an
    identifier with system ``urn:ietf:rfc:3986``, so the models resolve those references by identifier; an
    entry without id (a POST) takes the uuid of its urn:uuid fullUrl as id."""
    if resource["resourceType"] != "Bundle":
        yield resource, None
        return
    for position, entry in enumerate(resource.get("entry") or []):
        item = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(item, dict):
            yield {}, f"bundle entry {position}: no resource"
            continue
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
            item.setdefault("id", full_url.removeprefix("urn:uuid:"))
        checked, reason = check_resource(item, None)
        if checked is None:
            yield {}, f"bundle entry {position}: {reason}"
            continue
        if isinstance(full_url, str) and full_url:
            identifiers = checked.setdefault("identifier", [])
            if not any(i.get("system") == FULL_URL_SYSTEM and i.get("value") == full_url for i in identifiers):
                identifiers.append({"system": FULL_URL_SYSTEM, "value": full_url})
        yield checked, None


def datastore_dir(data_dir: Path, database: str) -> Path:
    return data_dir / "healthlake" / database


def catalog_path(data_dir: Path) -> Path:
    return data_dir / "awsdatacatalog.duckdb"


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
    batches = BatchFiles(datastore_dir(data_dir, database), report.job_id)
    last_updated = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    with batches, progress_bar(show_progress) as progress:
        task = progress.add_task("importing FHIR", total=sum(f.stat().st_size for f in files))
        files_done = 0  # bytes
        for path in files:
            expected = expected_type_from_filename(path)
            size, chars = path.stat().st_size, 0
            with path.open(encoding="utf-8", errors="replace") as lines:
                for number, text in enumerate(lines, start=1):
                    chars += len(text)  # ~bytes: the bar moves every few thousand lines, exact at each file's end
                    if number % 4096 == 0:
                        progress.update(task, completed=files_done + min(chars, size))
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
                    for entry, entry_reason in bundle_entries(resource):
                        if entry_reason is not None:
                            report.rejected.append(Rejection(path.name, number, entry_reason, "Bundle"))
                            continue
                        batches.write(entry["resourceType"], stamped(entry, last_updated))
                        report.loaded[entry["resourceType"]] += 1
            files_done += size
            progress.update(task, completed=files_done)

    rebuild_tables(data_dir, database, batches.resource_types)
    log_job(data_dir, report, source)
    return report


class BatchFiles:
    """The job's accepted lines, written as they come (memory stays flat) to one new datastore file per
    resource type; ``.part`` until the job succeeds, so a failed job leaves the datastore as it was."""

    def __init__(self, store: Path, job_id: str) -> None:
        self._store, self._job_id = store, job_id
        self._files: dict[str, tuple[Path, TextIO]] = {}

    @property
    def resource_types(self) -> list[str]:
        return sorted(self._files)

    def write(self, resource_type: str, line: str) -> None:
        if resource_type not in self._files:
            type_dir = self._store / resource_type
            type_dir.mkdir(parents=True, exist_ok=True)
            # Names sort in import order: the datastore's "last write wins" reads them in that order.
            path = type_dir / f"{time.time_ns():020d}-{self._job_id}.ndjson"
            self._files[resource_type] = (path, part_file(path).open("w", encoding="utf-8"))
        handle = self._files[resource_type][1]
        handle.write(line)
        handle.write("\n")

    def __enter__(self) -> BatchFiles:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        for path, handle in self._files.values():
            handle.close()
            if exc_type is None:
                part_file(path).rename(path)
            else:
                part_file(path).unlink(missing_ok=True)


def part_file(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def stored_lines(type_dir: Path) -> dict[str, str]:
    """Current version of each resource (its JSON text): files in import order, the last write of an id wins."""
    current: dict[str, str] = {}
    for path in sorted(type_dir.glob("*.ndjson")):
        with path.open(encoding="utf-8") as lines:
            for text in lines:
                current[parse_json(text)["id"]] = text.rstrip("\n")
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
            type_dir = datastore_dir(data_dir, database) / resource_type
            with current_version_file(con, type_dir) as source:
                write_table(con, database, resource_type, source)


@contextmanager
def current_version_file(con: duckdb.DuckDBPyConnection, type_dir: Path) -> Iterator[Path]:
    """One NDJSON file holding the current version of each stored resource, in first-import order.

    The common case (one stored file, ids unique) is that file itself; after re-imports, the stored
    files are read once to apply "last write wins" into a temporary file.
    """
    files = sorted(type_dir.glob("*.ndjson"))
    if len(files) == 1 and not scalar(
        con, "select count(*) <> count(distinct json ->> 'id') "
        f"from read_ndjson_objects(?, maximum_object_size = {MAX_OBJECT_SIZE})", [str(files[0])]
    ):
        yield files[0]
        return
    with temporary_ndjson(stored_lines(type_dir).values()) as path:
        yield path


@contextmanager
def temporary_ndjson(lines: Iterable[str]) -> Iterator[Path]:
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", encoding="utf-8", delete=False) as tmp:
        for line in lines:
            tmp.write(line)
            tmp.write("\n")
    try:
        yield Path(tmp.name)
    finally:
        Path(tmp.name).unlink()


def write_table(con: duckdb.DuckDBPyConnection, database: str, resource_type: str, source: Path) -> None:
    """Create the table from a file of raw FHIR resources: in DuckDB, or in Python when DuckDB can't be exact."""
    try:
        write_table_in_duckdb(con, database, resource_type, source)
    except layout.StructureNotExact:
        with source.open(encoding="utf-8") as lines:
            rows = [layout.normalize(parse_json(text)) for text in lines if text.strip()]
        write_normalised_table(con, database, resource_type, rows)


def write_table_in_duckdb(con: duckdb.DuckDBPyConnection, database: str, resource_type: str, source: Path) -> None:
    """The fast path: type = base schema merged with the type of each distinct row structure (DuckDB's
    ``json_structure``, in first-seen order), then DuckDB reads the raw rows with their camelCase keys into
    the table declared with the lowercase type (same field order); extension objects read as VARCHAR are
    their JSON text."""
    structures = con.execute(
        "select structure from (select json_structure(json) as structure, row_number() over () as n "
        f"from read_ndjson_objects(?, maximum_object_size = {MAX_OBJECT_SIZE})) "
        "group by structure order by min(n)",
        [str(source)],
    ).fetchall()
    table_type: layout.FhirType = layout.BASE_SCHEMAS.get(resource_type) or layout.BASE_SCHEMAS_COMMON
    names: layout.NameTree = {}
    for (structure,) in structures:
        table_type = layout.merge_types(table_type, layout.structure_type(json.loads(structure), names))
    assert isinstance(table_type, layout.Struct)
    if not layout.exact_in_duckdb(table_type):
        raise layout.StructureNotExact("a JSON column: its text must be the normalised JSON")
    # The table is declared with its own (lowercase) type and filled from the raw read: a cast would not
    # do, DuckDB drops casts between struct types that differ only by the case of their field names.
    table = f'"{database}"."{layout.table_name(resource_type)}"'
    declared = ", ".join(f'"{name}" {layout.duckdb_type(t)}' for name, t in table_type.fields)
    read_columns: dict[str, str] = {}
    for name, field_type in table_type.fields:
        spelling, below = names.get(name, (name, {}))
        read_columns[spelling] = layout.raw_duckdb_type(field_type, below)
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace table {table} ({declared})")
        con.execute(
            f"insert into {table} select * from read_json(?, format = 'newline_delimited', "
            f"columns = {duckdb_struct_literal(read_columns)}, maximum_object_size = {MAX_OBJECT_SIZE})",
            [str(source)],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def write_normalised_table(
    con: duckdb.DuckDBPyConnection, database: str, resource_type: str, rows: list[dict[str, Any]]
) -> None:
    """The exact Python path: infer the type of every normalised row, load them through a temporary file."""
    table_type: layout.FhirType = layout.BASE_SCHEMAS.get(resource_type) or layout.BASE_SCHEMAS_COMMON
    for row in rows:
        table_type = layout.merge_types(table_type, layout.infer_type(row))
    assert isinstance(table_type, layout.Struct)
    columns = {name: layout.duckdb_type(t) for name, t in table_type.fields}
    table = f'"{database}"."{layout.table_name(resource_type)}"'
    dumped = (json.dumps(row, separators=(",", ":"), ensure_ascii=False) for row in rows)
    with temporary_ndjson(dumped) as path:
        con.execute(
            f"create or replace table {table} as select * from read_json(?, format = 'newline_delimited', "
            f"columns = {duckdb_struct_literal(columns)}, maximum_object_size = {MAX_OBJECT_SIZE})",
            [str(path)],
        )


def duckdb_struct_literal(columns: dict[str, str]) -> str:
    entries = (f"'{name}': '{sql_type.replace(chr(39), chr(39) * 2)}'" for name, sql_type in columns.items())
    return "{" + ", ".join(entries) + "}"


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
