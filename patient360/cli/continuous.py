"""`patient360 continuous`: the stream and the replica flowing, the marts rebuilt every interval."""

from __future__ import annotations

import argparse
from pathlib import Path

from patient360.cli.output import console, error
from patient360.local_aws.healthlake.catalog import patient_ids
from patient360.pipeline.continuous import ContinuousConfig, ContinuousRun
from patient360.settings import Settings

EPILOG = """Needs a HealthLake stand-in (patient360 run, or healthlake import). Uses KAFKA_BOOTSTRAP_SERVERS (or the
broker of `services start kafka`), else a local broker for the duration; produces wearable events stamped with
the current time, keeps `ingest --follow` and (front desk on) `replicate` running as child processes with desk
operations trickling in, and runs `dbt <command> --select <select>` every --interval seconds. After each build
it reads patient_360.last_wearable_event_at: an event is visible once that reaches its event time.
Prints produced -> visible p50 / p95; exit 1 if no event became visible, 0 otherwise."""


def register(sub: argparse._SubParsersAction) -> None:
    verb = sub.add_parser("continuous", help="near real time: stream and replica flowing, marts rebuilt every "
                          "interval", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    verb.add_argument("--interval", type=float, default=10.0, help="seconds between incremental builds")
    verb.add_argument("--duration", type=float, default=120.0, help="seconds to run, then stop cleanly")
    verb.add_argument("--rate", type=float, default=20.0, help="wearable events per second")
    verb.add_argument("--wearers", type=int, default=10, help="patients with a wearable device")
    verb.add_argument("--seed", type=int, default=42)
    verb.add_argument("--front-desk", choices=["auto", "on", "off"], default="auto",
                      help="replicate a trickling front desk (auto: when FRONT_DESK_MYSQL_HOST or MariaDB)")
    verb.add_argument("--desk-rate", type=float, default=1.0, help="front-desk operations per second")
    verb.add_argument("--dbt-command", choices=["build", "run"], default="build",
                      help="build (models + their tests, default) or run (models only)")
    verb.add_argument("--select", default="source:wearables_msk+ source:front_desk+",
                      help="what each interval rebuilds (default: downstream of the stream and the replica)")
    verb.add_argument("--results", type=Path, help="write the freshness samples and summary here (JSON)")
    verb.set_defaults(handler=continuous_verb)


def continuous_verb(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = ContinuousConfig(
            interval_s=args.interval, duration_s=args.duration, rate=args.rate, wearers=args.wearers,
            seed=args.seed, front_desk=args.front_desk, desk_ops_per_s=args.desk_rate,
            dbt_command=args.dbt_command, select=args.select, results=args.results,
        )
    except ValueError as exc:
        return error(str(exc))
    wearers = patient_ids(settings.healthlake_catalog_path, settings.healthlake_db)[: config.wearers]
    if not wearers:
        return error("the HealthLake stand-in holds no patients")
    return ContinuousRun(settings, config, console).run(wearers)
