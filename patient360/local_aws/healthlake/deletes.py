"""Deletes for the HealthLake stand-in: what to remove, read from the forms an export delivers them in.

A deletes file (``patient360 healthlake import DIR --deletes FILE``, or every ``*.ndjson`` in a ``deleted/``
folder of the export) holds one item per line:
  * ``ResourceType/id``: delete it, whatever its version;
  * a FHIR Bulk Data ``_since`` "deleted" Bundle: each entry with ``request.method`` DELETE and
    ``request.url`` ``ResourceType/id`` (https://hl7.org/fhir/uv/bulkdata/export.html, the manifest's
    ``deleted`` array); the Bundle's ``meta.lastUpdated``, when given, is the time of the deletes;
  * a deleted resource (``resourceType``, ``id``, optional ``meta.lastUpdated`` = when it was deleted).
A delete stamped with a time older than the stored copy does not apply (versions.supersedes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patient360.local_aws.healthlake.versions import Version, normalised_instant

LITERAL = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})$")


@dataclass(frozen=True)
class Delete:
    resource_type: str
    resource_id: str
    version: Version


@dataclass(frozen=True)
class BadDelete:
    file: str
    line: int
    reason: str


def deletes_files(source: Path, deletes: Path | None) -> list[Path]:
    """The export's ``deleted/`` folder's NDJSON files, then the ``--deletes`` file."""
    found = sorted((source / "deleted").glob("*.ndjson")) if source.is_dir() else []
    if deletes is not None:
        if not deletes.is_file():
            raise FileNotFoundError(f"deletes file {deletes} does not exist")
        found.append(deletes)
    return found


def read_deletes(path: Path) -> Iterator[Delete | BadDelete]:
    """Every delete of one file, line by line (a bad line is a BadDelete naming file and line)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, start=1):
            text = text.strip()
            if not text:
                continue
            try:
                yield from line_deletes(text)
            except ValueError as exc:
                yield BadDelete(path.name, number, str(exc))


def line_deletes(text: str) -> Iterator[Delete]:
    if not text.startswith("{"):
        yield literal_delete(text, None)
        return
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON ({exc.msg} at column {exc.colno})") from None
    when = normalised_instant((item.get("meta") or {}).get("lastUpdated"))
    if item.get("resourceType") == "Bundle":
        for position, entry in enumerate(item.get("entry") or []):
            yield bundle_delete(entry, position, when)
        return
    resource_type, resource_id = item.get("resourceType"), item.get("id")
    if not isinstance(resource_type, str) or not isinstance(resource_id, str):
        raise ValueError("a deleted resource needs resourceType and id")
    yield literal_delete(f"{resource_type}/{resource_id}", when)


def bundle_delete(entry: Any, position: int, when: str | None) -> Delete:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or request.get("method") != "DELETE":
        raise ValueError(f"bundle entry {position}: not a DELETE request")
    return literal_delete(str(request.get("url", "")), when)


def literal_delete(reference: str, when: str | None) -> Delete:
    match = LITERAL.match(reference)
    if not match:
        raise ValueError("expected ResourceType/id")  # the value itself is not echoed: it may be PHI
    return Delete(match.group(1), match.group(2), Version(when, None, deleted=True))
