"""`patient360 healthlake import`: a FHIR bulk export into the HealthLake stand-in."""

from __future__ import annotations

import argparse
from pathlib import Path

from patient360.cli.output import OK, console, error, info
from patient360.console import interactive
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    healthlake = sub.add_parser("healthlake", help="the local AWS HealthLake stand-in")
    actions = healthlake.add_subparsers(dest="action", required=True)
    importer = actions.add_parser("import", help="import a FHIR bulk-export NDJSON folder (or file)")
    importer.add_argument("source", type=Path,
                          help="a bulk-export folder (its *.ndjson; deletes in its deleted/ subfolder) or one file")
    importer.add_argument("--validate", action="store_true", help="reject resources that are not valid FHIR R4")
    importer.add_argument("--deletes", type=Path, metavar="FILE",
                          help="resources to delete: lines `ResourceType/id`, or NDJSON of deleted resources or of "
                               "Bulk Data `_since` deleted Bundles (DELETE entries)")
    importer.set_defaults(handler=import_verb)


def import_verb(args: argparse.Namespace, settings: Settings) -> int:
    if not args.source.exists():
        return error(f"{args.source} does not exist")
    report = import_bulk_export(args.source, settings.data_dir, settings.healthlake_db, validate=args.validate,
                                show_progress=interactive(), deletes=args.deletes)
    for rejection in report.rejected:
        console.print(f"[yellow]rejected[/yellow] {rejection.file}:{rejection.line}: {rejection.reason}",
                      highlight=False)
    info(report.summary())
    return OK
