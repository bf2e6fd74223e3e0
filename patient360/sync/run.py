"""Composition of the sync verbs for a target: which source, which destination, which client."""

from __future__ import annotations

from patient360.dbt import DbtResult, run_dbt
from patient360.settings import Settings, SyncSettings
from patient360.sync.destinations import Destination, open_destination
from patient360.sync.duckdb_source import DuckDbSource
from patient360.sync.engagement import ImportReport, engagement_files, import_local, import_redshift
from patient360.sync.export import Batch, ExportSource, export_once
from patient360.sync.profiles import export_profile
from patient360.sync.redshift_data_api import DataApiTarget, RedshiftDataApi, data_api_client
from patient360.sync.redshift_source import RedshiftSource, unload_initial
from patient360.warehouse import NoWarehouse

# What the write-back changes: the outreach models and everything downstream (patient_360, the snapshot).
ENGAGEMENT_SELECTION = "stg_engagement__outreach_events+"


def data_api(sync: SyncSettings) -> RedshiftDataApi:
    return RedshiftDataApi(data_api_client(sync.region), DataApiTarget.from_settings(sync))


def export_source(settings: Settings, sync: SyncSettings, profile: str) -> ExportSource:
    if settings.target == "redshift":
        return RedshiftSource(data_api(sync), sync)
    return DuckDbSource(settings, export_profile(profile))


def destination_for(sync: SyncSettings, spec: str | None) -> Destination:
    return open_destination(spec or sync.destination, s3_endpoint_url=sync.s3_endpoint_url, region=sync.region)


def sync_export(settings: Settings, sync: SyncSettings, *, profile: str, destination: Destination,
                initial: bool) -> Batch | None:
    """One export round: on Redshift the initial export is an UNLOAD, everything else one Parquet batch."""
    export_profile(profile)  # an unknown profile fails before anything is read
    source = export_source(settings, sync, profile)
    if initial and isinstance(source, RedshiftSource):
        return unload_initial(source, destination, settings=settings, sync=sync, profile=profile)
    return export_once(source, destination, settings=settings, sync=sync, profile=profile, initial=initial)


def import_engagement(settings: Settings, sync: SyncSettings, source: str, *, build: bool
                      ) -> tuple[ImportReport, DbtResult | None]:
    if settings.target == "redshift":
        if not source.startswith("s3://"):
            raise ValueError(f"{source}: on Redshift the engagement files are COPYed from S3 (s3://bucket/prefix)")
        report = import_redshift(data_api(sync), sync, source)
    else:
        if not settings.warehouse_path.exists():
            raise NoWarehouse(f"no warehouse at {settings.warehouse_path}: run `patient360 build` first")
        with engagement_files(source, sync) as files:
            report = import_local(settings, sync, files)
    result = run_dbt(settings, "build", "--select", ENGAGEMENT_SELECTION) if build else None
    return report, result
