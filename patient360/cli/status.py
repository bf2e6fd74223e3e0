"""`patient360 status`: per source, what is where right now (counts, offsets, lag, freshness)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from patient360.cli.output import FAILED, OK, console, note
from patient360.console import make_console
from patient360.settings import Settings
from patient360.status.collect import collect_status
from patient360.status.render import render_status


def register(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="per source: row counts, stream offsets, replication lag, freshness; HealthLake jobs",
        epilog="Exit 1 when a source is past its error_after (dbt source freshness), else 0.",
    )
    status.add_argument("--target", choices=["local", "redshift"], default="local",
                        help="redshift: freshness only (counts are read from the local DuckDB files)")
    status.add_argument("--no-freshness", dest="freshness", action="store_false",
                        help="skip `dbt source freshness` (a few seconds)")
    status.add_argument("--json", action="store_true", help="print the status as JSON on stdout")
    status.set_defaults(handler=status_verb)


def status_verb(args: argparse.Namespace, settings: Settings) -> int:
    with console.status("collecting status" + (" (dbt source freshness)" if args.freshness else "")):
        status = collect_status(settings, target=args.target, freshness=args.freshness)
    if args.json:
        sys.stdout.write(json.dumps(asdict(status), indent=2, default=str) + "\n")
    else:
        render_status(status, make_console(stderr=False, min_width=120))
    for problem in status.problems:
        note(problem)
    return FAILED if any(f.status in {"error", "runtime error"} for f in status.freshness) else OK
