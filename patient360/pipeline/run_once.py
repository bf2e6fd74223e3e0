"""`patient360 run`: every source simulated, landed in its stand-in, and the project built, once, locally."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patient360.console import Steps, interactive
from patient360.dbt import DbtResult, run_dbt
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.local_aws.healthlake.catalog import patient_ids
from patient360.pipeline import endpoints
from patient360.pipeline.front_desk import desk_patients, replicate, simulate_desk
from patient360.pipeline.wearables import produce_and_land
from patient360.settings import Settings
from simulators.fhir.population import PopulationConfig, stream_bulk_export

STEP_COUNT = 5


class StepError(RuntimeError):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class RunOptions:
    patients: int = 50
    seed: int = 42
    wearers: int = 10
    wearable_days: int = 2


def simulate_fhir(settings: Settings, patients: int, seed: int, out_dir: Path | None = None) -> tuple[Path, int]:
    """A synthetic FHIR R4 population as a bulk-export NDJSON folder; (folder, resources written)."""
    out_dir = out_dir or settings.data_dir / "exports" / f"fhir-seed{seed}-n{patients}"
    summary = stream_bulk_export(PopulationConfig(patients=patients, seed=seed), out_dir)
    return out_dir, sum(summary.counts.values())


def run_once(settings: Settings, options: RunOptions, steps: Steps) -> DbtResult:
    with steps.step("simulate FHIR") as line:
        export, resources = simulate_fhir(settings, options.patients, options.seed)
        line.report(f"{options.patients} patients, {resources} resources")
    with steps.step("HealthLake import") as line:
        report = import_bulk_export(export, settings.data_dir, settings.healthlake_db, show_progress=interactive())
        line.report(f"{sum(report.loaded.values())} loaded, {len(report.rejected)} rejected")
    with steps.step("front desk + zero-ETL") as line:
        line.report(*_front_desk(settings, options.seed))
    with steps.step("wearables stream") as line:
        wearers = patient_ids(settings.healthlake_catalog_path, settings.healthlake_db)[: options.wearers]
        wearables = produce_and_land(settings, wearers, seed=options.seed, days=options.wearable_days,
                                     show_progress=interactive())
        if wearables.lost:
            raise StepError(f"{wearables.lost} produced events did not land")
        line.report(wearables.summary())
    with steps.step("dbt build") as line:
        full_refresh = ["--full-refresh"] if wearables.landing_reset else []
        result = run_dbt(settings, "build", *full_refresh, target="local")
        line.report(result.summary(), "done" if result.ok else "failed")
    return result


def _front_desk(settings: Settings, seed: int) -> tuple[str, str]:
    """(detail, outcome): skipped, never failed, when no MySQL is configured and MariaDB is not installed."""
    if not endpoints.front_desk_available(settings):
        return "no FRONT_DESK_MYSQL_HOST and MariaDB is not installed; the replica stays empty", "skipped"
    endpoint = endpoints.front_desk(settings, start=True)
    try:
        day = simulate_desk(endpoint.mysql, desk_patients(settings, synthetic=None, seed=seed), seed=seed, days=1.0)
        cdc, report = replicate(settings, endpoint.mysql, once=True, timeout=120)
    finally:
        endpoint.stop_if_started_here()
    detail = (f"{day.operations} operations, {day.appointments} appointments; replica: {report.resyncs} snapshot(s), "
              f"{report.transactions} transactions")
    return detail, "done"
