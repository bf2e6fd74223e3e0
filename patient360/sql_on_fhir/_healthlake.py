"""The one place this package touches the project's HealthLake stand-in (re-point here when
``simulators.fhir.bulk_import`` moves to ``patient360.local_aws.healthlake.bulk_import``)."""

from __future__ import annotations

from pathlib import Path

from simulators.fhir.bulk_import import catalog_path, import_bulk_export

__all__ = ["catalog_path", "import_bulk_export", "table_name"]


def table_name(database: str, resource_type: str) -> str:
    """The catalog table of a resource type: ``"<database>"."<type lowercased>"`` (HealthLake's naming)."""
    return f'"{database}"."{resource_type.lower()}"'


def default_catalog(data_dir: Path) -> Path:
    return catalog_path(data_dir)
