"""`patient360 run`: simulate every source, land it in its stand-in and build, once, locally (the demo)."""

from __future__ import annotations

import argparse

from patient360.cli.build import report_dbt
from patient360.cli.output import OK, console, error
from patient360.cli.show import show_tables
from patient360.console import Steps
from patient360.pipeline.run_once import STEP_COUNT, RunOptions, run_once
from patient360.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="simulate, land, replicate and build everything once, on the local target")
    run.add_argument("--patients", type=int, default=50)
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--show", type=int, default=5, help="rows to print at the end (0: none)")
    run.add_argument("--wearers", type=int, default=10, help="patients with a wearable device")
    run.add_argument("--wearable-days", type=int, default=2, help="days of per-minute wearable events")
    run.set_defaults(handler=run_verb)


def run_verb(args: argparse.Namespace, settings: Settings) -> int:
    if args.patients < 1:
        return error("--patients must be at least 1")
    options = RunOptions(patients=args.patients, seed=args.seed, wearers=args.wearers,
                         wearable_days=args.wearable_days)
    result = run_once(settings, options, Steps(STEP_COUNT, console))
    code = report_dbt(result, summary=False)  # the step line has it
    if code == OK and args.show:
        show_tables(settings, args.show)
    if code == OK:
        console.print(f"done: warehouse {settings.warehouse_path}; dbt log {result.log_path}", highlight=False)
    return code
