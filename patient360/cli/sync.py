"""`patient360 sync export|import-engagement`: the patient 360 out to the activation platform (initial UNLOAD
or Parquet, then incremental batches by watermark) and its outreach events back in (COPY)."""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from patient360.cli.build import report_dbt
from patient360.cli.output import OK, info
from patient360.settings import Settings, load_sync_settings
from patient360.sync.export import Batch, export_every, parse_every
from patient360.sync.profiles import PROFILES
from patient360.sync.run import destination_for, import_engagement, sync_export


def register(sub: argparse._SubParsersAction) -> None:
    verb = sub.add_parser("sync", help="sync the patient 360 out (export) and outreach events back in")
    actions = verb.add_subparsers(dest="sync_action", required=True)
    export = actions.add_parser("export", help="initial or incremental export of patient_360 as Parquet",
                                epilog="Each batch is one file named by its last_updated_at range; the watermark "
                                       "is stored only after the file is complete.")
    export.add_argument("--initial", action="store_true", help="every row (Redshift: UNLOAD), watermark restarted")
    export.add_argument("--every", help="keep syncing on a cadence, e.g. 10m, 1h (stop: SIGTERM / Ctrl-C)")
    export.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="columns that leave: care_team (clear) or analytics (masked); default $P360_SYNC_PROFILE")
    export.add_argument("--to", dest="destination", help="folder or s3://bucket/prefix; default $P360_SYNC_DESTINATION")
    export.set_defaults(handler=export_verb)
    engagement = actions.add_parser("import-engagement", help="load outreach events (CSV/Parquet) and rebuild")
    engagement.add_argument("source", help="a .csv/.parquet file, a folder of them, or s3://bucket/prefix")
    engagement.add_argument("--no-build", action="store_true", help="load only; the next build picks them up")
    engagement.set_defaults(handler=import_engagement_verb)


def _print_batch(batch: Batch | None) -> None:
    if batch is None:
        info("sync export: nothing changed since the watermark")
        return
    since = batch.after.isoformat(sep=" ") if batch.after else "the beginning"
    info(f"sync export: {batch.rows} rows changed after {since} up to {batch.upto.isoformat(sep=' ')} "
         f"-> {batch.location} ({batch.seconds:.2f} s)")


def export_verb(args: argparse.Namespace, settings: Settings) -> int:
    sync = load_sync_settings(settings)
    profile = args.profile or sync.profile
    destination = destination_for(sync, args.destination)
    if not args.every:
        _print_batch(sync_export(settings, sync, profile=profile, destination=destination, initial=args.initial))
        return OK
    interval = parse_every(args.every)
    stopping = {"now": False}

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    first = {"initial": args.initial}

    def once() -> Batch | None:
        initial, first["initial"] = first["initial"], False  # --initial applies to the first round only
        return sync_export(settings, sync, profile=profile, destination=destination, initial=initial)

    rounds = export_every(interval, once, _print_batch, stop=lambda: stopping["now"])
    info(f"sync export: stopped after {rounds} round(s)")
    return OK


def import_engagement_verb(args: argparse.Namespace, settings: Settings) -> int:
    sync = load_sync_settings(settings)
    report, result = import_engagement(settings, sync, args.source, build=not args.no_build)
    info(f"import-engagement: {report.rows} rows from {report.files} file(s) loaded")
    return OK if result is None else report_dbt(result)
