"""`patient360 build`: dbt build of the project (extra arguments go to dbt)."""

from __future__ import annotations

import argparse

from patient360.cli.output import FAILED, OK, console, error, info
from patient360.dbt import DbtResult, run_dbt
from patient360.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser("build", help="dbt build (extra arguments go to dbt, e.g. --select, --full-refresh)",
                           epilog="dbt's full output: <data dir>/logs/dbt-output.log.")
    build.add_argument("--target", choices=["local", "redshift"], default=None, help="default: $P360_TARGET")
    build.set_defaults(handler=build_verb, forwards=True)


def build_verb(args: argparse.Namespace, settings: Settings) -> int:
    target = args.target or settings.target
    if target == "local" and not settings.healthlake_catalog_path.exists():
        return error(f"no HealthLake stand-in at {settings.healthlake_catalog_path}: "
                     "run `patient360 healthlake import` or `patient360 run` first")
    with console.status("dbt build"):
        result = run_dbt(settings, "build", *args.forwarded, target=target)
    return report_dbt(result)


def report_dbt(result: DbtResult, *, summary: bool = True) -> int:
    """dbt's summary line; on failure the failing nodes and the log path."""
    if summary:
        info(result.summary())
    for warning in result.warnings:
        console.print(f"[yellow]warn:[/yellow] {warning.unique_id}: {(warning.message or '').strip()[:200]}",
                      highlight=False)
    if result.ok:
        return OK
    for line in result.failure_lines():
        console.print(f"[red]{line}[/red]", highlight=False)
    return FAILED
