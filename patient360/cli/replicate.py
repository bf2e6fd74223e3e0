"""`patient360 replicate`: zero-ETL CDC from the front-desk MySQL binlog into the replica."""

from __future__ import annotations

import argparse
import signal
import threading

from patient360.cli.output import FAILED, OK, console, info
from patient360.local_aws.zero_etl.replicator import NO_PK_REASON
from patient360.pipeline import endpoints
from patient360.pipeline.front_desk import replicate, replication_summary
from patient360.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    verb = sub.add_parser(
        "replicate", help="zero-ETL CDC: front-desk MySQL binlog -> the replica (follows until stopped)",
        epilog="Source: FRONT_DESK_MYSQL_* when set, else the running private MariaDB of the data dir. Replica: "
               "<data dir>/<P360_ZETL_DB>.duckdb. The first run snapshots; later runs resume at the stored binlog "
               "position. Exit 0 when caught up (--once) or stopped by SIGTERM / Ctrl-C; 1 when a table was "
               "refused (no primary key).",
    )
    verb.add_argument("--once", action="store_true", help="catch up to the source's current position, then exit")
    verb.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    verb.add_argument("--resync", action="store_true", help="take a fresh snapshot first")
    verb.add_argument("--lock-timeout", type=float, default=300.0,
                      help="seconds to wait while dbt holds the replica file (default 300)")
    verb.set_defaults(handler=replicate_verb)


def replicate_verb(args: argparse.Namespace, settings: Settings) -> int:
    endpoint = endpoints.front_desk(settings, start=False)
    stop = threading.Event()
    if not args.once:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        info(f"replicating {endpoint.mysql.describe()} -> {settings.replica_path} (SIGTERM / Ctrl-C stops)")
    cdc, report = replicate(settings, endpoint.mysql, once=args.once, timeout=args.timeout, resync=args.resync,
                            stop=stop, lock_timeout=args.lock_timeout)
    for name in report.refused:
        console.print(f"[red]refused:[/red] {cdc.database}.{name}: {NO_PK_REASON}", highlight=False)
    info(replication_summary(cdc, report))
    return FAILED if report.refused else OK
