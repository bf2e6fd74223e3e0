"""Export profiles: which relation a sync reads, so which values leave.

``care_team`` reads ``patient_360_sync`` with clear values (the clinician role); ``analytics`` reads the same
columns masked exactly as the analyst views are (on DuckDB the ``<schema>_analyst`` view dbt generates from
the yml PHI tags; on Redshift the same table read by a database user holding the analyst role, so dynamic data
masking applies). Masking is never re-implemented here: the warehouse's own governance decides. Both carry
``is_deleted`` and the clear ``patient_id`` (not PHI), so either consumer can apply a tombstone.
"""

from __future__ import annotations

from dataclasses import dataclass

SYNC_MODEL = "patient_360_sync"
WATERMARK_COLUMN = "last_updated_at"
# True on a tombstone: the patient left every source (patient_id, this and the watermark column are set).
DELETED_COLUMN = "is_deleted"


@dataclass(frozen=True)
class ExportProfile:
    name: str
    masked: bool  # read through the analyst masking
    meaning: str

    def local_schema(self, marts_schema: str) -> str:
        return f"{marts_schema}_analyst" if self.masked else marts_schema


PROFILES: dict[str, ExportProfile] = {
    "care_team": ExportProfile("care_team", masked=False, meaning="clear values, for the clinician role"),
    "analytics": ExportProfile("analytics", masked=True, meaning="PHI masked like the analyst views"),
}


def export_profile(name: str) -> ExportProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown export profile {name!r}: choose one of {', '.join(PROFILES)}") from None
