"""Which copy of a FHIR resource is current: HealthLake's rule for re-imports and deletes.

A re-imported resource replaces the stored one only when it is newer by ``meta.lastUpdated``, else (same
or no instant on a side) by ``meta.versionId`` (both numeric); an older copy, or the same version again, is
skipped. Without any
ordering information on either side, the last write wins (an export with no meta, as before). A delete is a
version too: it applies unless it is older than the stored copy, and the tombstone it leaves keeps an older
copy from coming back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Version:
    last_updated: str | None  # UTC instant, ISO 8601 with milliseconds: sorts as text
    version_id: str | None
    deleted: bool = False


def normalised_instant(value: Any) -> str | None:
    """A FHIR instant as a sortable UTC text (None when absent or not an instant: no ordering from it)."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # FHIR instants carry a zone; without one the order is unknown
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def version_of(resource: dict[str, Any]) -> Version:
    """The version a resource states in its own ``meta`` (before the import stamps its own time)."""
    meta = resource.get("meta") or {}
    version_id = meta.get("versionId")
    return Version(normalised_instant(meta.get("lastUpdated")), version_id if isinstance(version_id, str) else None)


def supersedes(new: Version, stored: Version) -> bool:
    """True when ``new`` (a copy or a delete) replaces ``stored``."""
    both_timed = bool(new.last_updated and stored.last_updated)
    both_numbered = (new.version_id or "").isdigit() and (stored.version_id or "").isdigit()
    if both_timed and new.last_updated != stored.last_updated:
        return (new.last_updated or "") > (stored.last_updated or "")
    if both_numbered and new.version_id != stored.version_id:
        return int(new.version_id or 0) > int(stored.version_id or 0)
    if both_timed or both_numbered:
        return new.deleted and not stored.deleted  # the same version again is no change; deleting it is
    return True  # nothing orders them: the last write wins
