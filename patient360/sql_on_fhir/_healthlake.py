"""The one place this package touches the project's HealthLake stand-in (``patient360.local_aws.healthlake``)
and its settings."""

from __future__ import annotations

from pathlib import Path

from patient360.local_aws.healthlake import layout
from patient360.local_aws.healthlake.bulk_import import catalog_path, import_bulk_export
from patient360.settings import load_settings, load_shared_data
from patient360.sql_on_fhir.schema import Physical

__all__ = ["catalog_path", "import_bulk_export", "table_name"]


def table_name(database: str, resource_type: str) -> str:
    """The catalog table of a resource type: ``"<database>"."<type lowercased>"`` (HealthLake's naming)."""
    return f'"{database}"."{resource_type.lower()}"'


def default_catalog(data_dir: Path) -> Path:
    return catalog_path(data_dir)


def default_database() -> str:
    """The configured HealthLake datastore schema (P360_HEALTHLAKE_DB, read by the project's settings)."""
    return load_settings().healthlake_db


def sof_suite_dir() -> Path:
    """The SQL-on-FHIR suite folder (P360_SOF_SUITE_DIR, default ../shared/sql-on-fhir-v2)."""
    return load_shared_data().sof_suite_dir


def declared_physical(resource_type: str) -> Physical:
    """The columns every HealthLake table of this type has, whatever the data (the importer's base schema),
    as the compiler's ``Physical``: what a dbt model may rely on."""
    def convert(fhir_type: layout.FhirType) -> Physical:
        sql = layout.duckdb_type(fhir_type)
        if isinstance(fhir_type, layout.Struct) and fhir_type.fields:
            return Physical(sql, fields={name: convert(t) for name, t in fhir_type.fields})
        if isinstance(fhir_type, layout.ListOf):
            return Physical(sql, item=convert(fhir_type.item))
        return Physical(sql)

    base = layout.BASE_SCHEMAS.get(resource_type) or layout.BASE_SCHEMAS_COMMON
    return convert(base)
