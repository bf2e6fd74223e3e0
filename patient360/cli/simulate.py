"""`patient360 simulate fhir|wearables|front-desk`: what the outside world produces, into its source."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from patient360.cli.output import OK, console, info
from patient360.console import interactive
from patient360.local_aws.healthlake.catalog import patient_ids
from patient360.pipeline import endpoints
from patient360.pipeline.front_desk import desk_patients, simulate_desk
from patient360.pipeline.run_once import simulate_fhir
from patient360.pipeline.wearables import produce
from patient360.settings import Settings
from simulators.wearables.events import DEFAULT_START, event_count, generate_events
from simulators.wearables.faults import with_faults
from simulators.wearables.reference_payload import reference_record


def register(sub: argparse._SubParsersAction) -> None:
    simulate = sub.add_parser("simulate", help="generate simulated source data into its source")
    kinds = simulate.add_subparsers(dest="source", required=True)
    fhir = kinds.add_parser("fhir", help="synthetic FHIR R4 population as a bulk-export NDJSON folder")
    fhir.add_argument("--patients", type=int, default=100)
    fhir.add_argument("--seed", type=int, default=42)
    fhir.add_argument("--out", type=Path, help="output folder (default: <data-dir>/exports/...)")
    fhir.set_defaults(handler=simulate_fhir_verb)
    _register_wearables(kinds)
    desk = kinds.add_parser(
        "front-desk", help="front-desk operations on the source MySQL",
        epilog="Source: FRONT_DESK_MYSQL_* when set, else the private MariaDB of the data dir (started and left "
               "running). The schema is (re)created, 90 days of history loaded, then --days of operations, one "
               "transaction each. Patients: the HealthLake stand-in's when imported, else --synthetic N.",
    )
    desk.add_argument("--days", type=float, default=1.0, help="simulated days of desk operations")
    desk.add_argument("--seed", type=int, default=42)
    desk.add_argument("--synthetic", type=int, metavar="N", help="N synthetic patients instead of HealthLake's")
    desk.set_defaults(handler=simulate_front_desk_verb)


def _register_wearables(kinds: argparse._SubParsersAction) -> None:
    wearables = kinds.add_parser(
        "wearables", help="wearable events to the stream (Kafka / MSK, or Kinesis: P360_STREAM_KIND)",
        epilog="MSK: KAFKA_BOOTSTRAP_SERVERS, else `patient360 services start kafka`. Kinesis: KINESIS_ENDPOINT_URL, "
               "else `patient360 services start kinesis`, else AWS (AWS_REGION).")
    who = wearables.add_mutually_exclusive_group()
    who.add_argument("--patients", nargs="+", metavar="ID", help="patient ids wearing a device")
    who.add_argument("--from-healthlake", action="store_true", help="one device per HealthLake patient")
    who.add_argument("--synthetic-patients", type=int, default=10, help="ids patient-0001.. (default 10)")
    wearables.add_argument("--seed", type=int, default=42)
    wearables.add_argument("--start", type=datetime.fromisoformat, default=DEFAULT_START, help="ISO 8601, UTC")
    wearables.add_argument("--minutes", type=int, default=60, help="minutes of device time per patient")
    wearables.add_argument("--interval-seconds", type=int, default=60, help="seconds between a device's events")
    wearables.add_argument("--duplicate-rate", type=float, default=0.0, help="share of producer-retry duplicates")
    wearables.add_argument("--malformed-rate", type=float, default=0.0, help="share of broken records")
    wearables.add_argument("--rate", type=float, default=None, help="records per second (default: no limit)")
    wearables.add_argument("--partitions", type=int, default=3,
                           help="partitions of a topic (shards of a Kinesis stream) created here")
    wearables.add_argument("--payload", choices=["full", "reference"], default="full",
                           help="reference: the reference solution's thin payload {patient_id, steps_increment "
                                "(a string), heart_rate}, no event id or time (faults do not apply)")
    wearables.set_defaults(handler=simulate_wearables_verb)


def simulate_fhir_verb(args: argparse.Namespace, settings: Settings) -> int:
    with console.status(f"generating {args.patients} patients (seed {args.seed})"):
        out_dir, resources = simulate_fhir(settings, args.patients, args.seed, args.out)
    info(f"wrote {resources} FHIR resources for {args.patients} patients to {out_dir}")
    return OK


def simulate_wearables_verb(args: argparse.Namespace, settings: Settings) -> int:
    stream = endpoints.require_stream(settings)
    if args.patients:
        ids = args.patients
    elif args.from_healthlake:
        ids = patient_ids(settings.healthlake_catalog_path, settings.healthlake_db)
    else:
        ids = [f"patient-{n:04d}" for n in range(1, args.synthetic_patients + 1)]
    start = args.start if args.start.tzinfo else args.start.replace(tzinfo=DEFAULT_START.tzinfo)
    events = generate_events(ids, seed=args.seed, start=start, minutes=args.minutes, interval_s=args.interval_seconds)
    records = (map(reference_record, events) if args.payload == "reference" else
               with_faults(events, seed=args.seed, duplicate_rate=args.duplicate_rate,
                           malformed_rate=args.malformed_rate))
    report = produce(settings, stream, records, total=event_count(len(ids), args.minutes, args.interval_seconds),
                     rate=args.rate, partitions=args.partitions, show_progress=interactive())
    info(report.summary())
    return OK


def simulate_front_desk_verb(args: argparse.Namespace, settings: Settings) -> int:
    endpoint = endpoints.front_desk(settings, start=True)  # a private server started here keeps running
    people = desk_patients(settings, synthetic=args.synthetic, seed=args.seed)
    day = simulate_desk(endpoint.mysql, people, seed=args.seed, days=args.days)
    info(day.summary())
    if endpoint.started_here is not None:
        info("the private MariaDB keeps running (stop it: patient360 services stop mariadb)")
    return OK
