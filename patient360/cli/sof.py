"""`patient360 sof run VIEW.json`: one SQL-on-FHIR v2 ViewDefinition over the local HealthLake stand-in, written
as a flat file (CSV or Parquet) for analysts who only want a table."""

from __future__ import annotations

import argparse
from pathlib import Path

from patient360.cli.output import OK, info
from patient360.settings import Settings
from patient360.sql_on_fhir.run import FORMATS, run_view


def register(sub: argparse._SubParsersAction) -> None:
    sof = sub.add_parser("sof", help="SQL on FHIR v2: run a ViewDefinition over the HealthLake stand-in")
    actions = sof.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run VIEW.json and write its rows as CSV or Parquet",
                             epilog="A view the compiler cannot take exits 2 with the view, the path and why.")
    run.add_argument("view", type=Path, help="a ViewDefinition JSON file")
    run.add_argument("--out", type=Path, help="output file (default: <data dir>/views/<view name>.<format>)")
    run.add_argument("--format", choices=FORMATS, default=None, help="default: from --out's suffix, else csv")
    run.set_defaults(handler=sof_run_verb)


def sof_run_verb(args: argparse.Namespace, settings: Settings) -> int:
    fmt = args.format or (args.out.suffix.lstrip(".") if args.out and args.out.suffix[1:] in FORMATS else "csv")
    out = args.out or settings.data_dir / "views" / f"{args.view.stem}.{fmt}"
    result = run_view(args.view, settings.healthlake_catalog_path, out, fmt, database=settings.healthlake_db)
    info(f"{args.view.name}: {result.rows} rows written to {result.out_path} ({fmt})")
    return OK
