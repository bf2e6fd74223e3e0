"""Import a FHIR bulk-export folder (NDJSON) into the local HealthLake stand-in.

What HealthLake's StartFHIRImportJob does, locally:
  * every ``*.ndjson`` file is read line by line; a bad line (not JSON, not a resource, wrong resource
    type for the file, no valid id, optionally invalid FHIR R4) is rejected with file, line and reason,
    and the good lines still load;
  * a line may hold a Bundle: its entries are imported, each entry's ``fullUrl`` kept as an identifier
    (system ``urn:ietf:rfc:3986``) so ``urn:uuid:`` references resolve;
  * like HealthLake, every accepted resource gets ``meta.lastUpdated`` set to the job's time;
  * accepted resources go to the datastore (``datastore``: one DuckDB file, by batches, so memory stays
    bounded); a re-imported resource replaces the stored one only when its own ``meta.lastUpdated`` /
    ``meta.versionId`` is newer (``versions``), an older copy is skipped and counted;
  * deletes (the export's ``deleted/`` folder, or a ``--deletes`` file; see ``deletes``) remove resources;
  * each touched resource type's table ``awsdatacatalog.<db>.<type>`` is rebuilt in the HealthLake
    layout (see ``layout``); the job and its rejections are logged in
    ``healthlake_import_log.jobs`` (loaded, skipped as not newer, deleted, rejected) /
    ``healthlake_import_log.rejected_resources``.

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
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import orjson

from patient360.console import progress_bar
from patient360.local_aws.healthlake import layout
from patient360.local_aws.healthlake.datastore import Datastore, Item, Outcome, current_bodies
from patient360.local_aws.healthlake.deletes import BadDelete, deletes_files, read_deletes
from patient360.local_aws.healthlake.versions import Version, version_of

RESOURCE_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
FHIR_ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
IMPORT_LOG_SCHEMA = "healthlake_import_log"
MAX_OBJECT_SIZE = 104857600
BATCH_SIZE = 50_000  # resources held in Python at a time (the store takes them by batches)


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
    rejected: list[Rejection] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)

    @property
    def loaded(self) -> Counter[str]:
        """Resources stored by the job (new, or newer than the stored copy)."""
        return self.outcome.stored

    @property
    def loaded_total(self) -> int:
        return sum(self.loaded.values())

    @property
    def skipped_older_total(self) -> int:
        return sum(self.outcome.skipped_older.values())

    @property
    def deleted_total(self) -> int:
        return sum(self.outcome.deleted.values())

    def summary(self) -> str:
        per_type = ", ".join(f"{t}={n}" for t, n in sorted(self.loaded.items())) or "none"
        outcome = self.outcome
        return (
            f"import job {self.job_id}: {self.lines_read} lines read, {self.loaded_total} resources loaded "
            f"({per_type}), {self.skipped_older_total} skipped (not newer than the stored version), "
            f"{self.deleted_total} deleted ({sum(outcome.deletes_not_found.values())} deletes of absent "
            f"resources, {sum(outcome.deletes_skipped_older.values())} older than the stored version), "
            f"{len(self.rejected)} rejected"
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


def datastore_path(data_dir: Path, database: str) -> Path:
    return datastore_dir(data_dir, database) / "datastore.duckdb"


def legacy_files(data_dir: Path, database: str) -> list[Path]:
    """NDJSON files of the datastore as it was before the versioned store (``<db>/<Type>/*.ndjson``, in
    import order) not migrated yet."""
    return sorted(datastore_dir(data_dir, database).glob("*/*.ndjson"), key=lambda p: (p.name, p.parent.name))


def resource_files(source: Path) -> list[Path]:
    """The export's ``*.ndjson`` files (not those of its ``deleted/`` folder), or the one file given."""
    if source.is_dir():
        return sorted(source.glob("*.ndjson"))
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    return [source]


def import_bulk_export(
    source: Path,
    data_dir: Path,
    database: str,
    *,
    validate: bool = False,
    show_progress: bool = False,
    deletes: Path | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import every ``*.ndjson`` under ``source`` (a folder or one file) into the datastore, then apply the
    deletes of its ``deleted/`` folder and of the ``deletes`` file (see ``deletes``)."""
    files, delete_files = resource_files(source), deletes_files(source, deletes)
    if not files and not delete_files:
        raise FileNotFoundError(f"no *.ndjson files in {source}")
    report = ImportReport(job_id=uuid.uuid4().hex[:12], database=database)
    job = ImportJob(report, FhirValidator() if validate else None, batch_size)
    legacy = legacy_files(data_dir, database)
    with Datastore(datastore_path(data_dir, database), report.job_id) as store, \
            progress_bar(show_progress) as progress:
        job.store = store
        for path in legacy:  # a data dir from before the versioned store: its resources come first
            job.import_legacy(path)
        task = progress.add_task("importing FHIR", total=sum(f.stat().st_size for f in files))
        for path in files:
            job.import_file(path, partial(progress.update, task))
        for path in delete_files:
            job.delete_from(path)
        job.flush()
    for path in legacy:  # in the store now (committed): kept aside, not migrated twice
        path.rename(path.with_name(path.name + ".migrated"))
    report.outcome = store.outcome
    rebuild_tables(data_dir, database, sorted(store.touched))
    log_job(data_dir, report, source)
    return report


class ImportJob:
    """One job's reading: lines checked, accepted resources stamped and handed to the store by batches."""

    def __init__(self, report: ImportReport, validator: FhirValidator | None, batch_size: int) -> None:
        self.report, self.validator, self.batch_size = report, validator, batch_size
        self.stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.batch: list[Item] = []
        self.store: Datastore | None = None

    def add(self, item: Item) -> None:
        self.batch.append(item)
        if len(self.batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        assert self.store is not None
        self.store.apply(self.batch)
        self.batch = []

    def import_file(self, path: Path, update_progress: Callable[..., object]) -> None:
        expected = expected_type_from_filename(path)
        chars = 0  # ~bytes: the bar moves every few thousand lines
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, text in enumerate(lines, start=1):
                chars += len(text)
                if number % 4096 == 0:
                    update_progress(advance=chars)
                    chars = 0
                if text.strip():
                    self.import_line(path.name, number, text, expected)
        update_progress(advance=chars)

    def import_line(self, file: str, number: int, text: str, expected: str | None) -> None:
        self.report.lines_read += 1
        resource, reason = check_line(text, expected)
        if resource is not None and self.validator is not None:
            reason = self.validator.problems(resource)
        if reason is not None:
            rtype = resource.get("resourceType") if resource else expected
            self.report.rejected.append(Rejection(file, number, reason, rtype))
            return
        assert resource is not None
        for entry, entry_reason in bundle_entries(resource):
            if entry_reason is not None:
                self.report.rejected.append(Rejection(file, number, entry_reason, "Bundle"))
                continue
            version = version_of(entry)  # as the export states it, before the stamp replaces lastUpdated
            self.add(Item(entry["resourceType"], entry["id"], version, stamped(entry, self.stamp)))

    def import_legacy(self, path: Path) -> None:
        """A stored file of the former datastore (already accepted and stamped): into the store as is."""
        with path.open(encoding="utf-8") as lines:
            for text in lines:
                resource = parse_json(text)
                self.add(Item(resource["resourceType"], resource["id"], Version(None, None), text.rstrip("\n")))

    def delete_from(self, path: Path) -> None:
        for found in read_deletes(path):
            if isinstance(found, BadDelete):
                self.report.rejected.append(Rejection(found.file, found.line, f"bad delete: {found.reason}"))
            else:
                self.add(Item(found.resource_type, found.resource_id, found.version, None))


def rebuild_tables(data_dir: Path, database: str, resource_types: list[str]) -> None:
    """(Re)create ``<database>.<type>`` for each type from the datastore's current resources."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = datastore_path(data_dir, database)
    with duckdb.connect(str(catalog_path(data_dir))) as con:
        # No lower memory limit here: filling a table in first-import order cannot spill (DuckDB runs out
        # of memory instead); the store's limit and the batches bound the rest of the job.
        con.execute(f'create schema if not exists "{database}"')
        existing = {
            name for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [database]
            ).fetchall()
        }
        # A HealthLake datastore exposes a table for every resource type, even an empty one.
        missing = [t for t in layout.BASE_SCHEMAS if layout.table_name(t) not in existing]
        for resource_type in sorted(set(resource_types) | set(missing)):
            with temporary_ndjson(current_bodies(store, resource_type)) as source:
                write_table(con, database, resource_type, source)


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
        # Added with re-import and delete semantics: older catalogs get the columns (null for past jobs).
        for column in ("resources_skipped_older", "resources_deleted", "deletes_not_found", "deletes_skipped_older"):
            con.execute(f"alter table {IMPORT_LOG_SCHEMA}.jobs add column if not exists {column} bigint")
        con.execute(
            f"create table if not exists {IMPORT_LOG_SCHEMA}.rejected_resources (job_id varchar, "
            "file varchar, line bigint, resource_type varchar, reason varchar)"
        )
        outcome = report.outcome
        con.execute(
            f"insert into {IMPORT_LOG_SCHEMA}.jobs (job_id, datastore, source, submitted_at, lines_read, "
            "resources_loaded, resources_rejected, resources_skipped_older, resources_deleted, deletes_not_found, "
            "deletes_skipped_older) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [report.job_id, report.database, str(source), datetime.now(UTC), report.lines_read,
             report.loaded_total, len(report.rejected), report.skipped_older_total, report.deleted_total,
             sum(outcome.deletes_not_found.values()), sum(outcome.deletes_skipped_older.values())],
        )
        if report.rejected:
            con.executemany(
                f"insert into {IMPORT_LOG_SCHEMA}.rejected_resources values (?, ?, ?, ?, ?)",
                [[report.job_id, r.file, r.line, r.resource_type, r.reason] for r in report.rejected],
            )
