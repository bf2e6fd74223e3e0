"""patient360: one command line for the local pipeline.

  patient360 simulate fhir --patients 100 --seed 42     synthetic FHIR R4 population -> bulk-export NDJSON
  patient360 healthlake import DIR [--validate]         bulk-export NDJSON -> HealthLake tables (DuckDB)
  patient360 simulate wearables [--from-healthlake] [--rate N] ARGS   wearable events -> Kafka (see --help)
  patient360 simulate front-desk [--days 1] [--seed 42] front-desk operations on the source MySQL/MariaDB
  patient360 ingest [--follow]                          land the Kafka topic once (REFRESH) or keep following
  patient360 replicate [--once]                         zero-ETL CDC MySQL -> replica: follow, or catch up once
  patient360 build [--target local|redshift] [ARGS]     dbt build of the project
  patient360 show [--limit 5]                           a few rows of the patient tables
  patient360 status [--no-freshness] [--json]           per source: rows, offsets, replication lag, freshness
  patient360 run --patients 50 --seed 42 --show 5       simulate, land, replicate and build everything, once
  patient360 continuous --interval 10 --duration 120    stream + replica flowing, marts rebuilt every interval
  patient360 front-desk [--days 1] [--seed 42]          desk operations on a private MariaDB, then replicate
  patient360 stream broker|refresh|follow [ARGS]        local Kafka broker; `ingest` under its old name
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulators.settings import Settings, dbt_executable, load_settings

console = Console(stderr=True)

EXIT_CODES = """exit codes:
  0  success (follow modes: stopped cleanly by SIGTERM / Ctrl-C)
  1  a step failed: its output says which (status: a source is past its error_after; replicate: a table
     was refused, e.g. no primary key; continuous: no sampled event became visible)
  2  bad usage or bad input: unknown option, missing file, source not configured or not reachable

Locations come from the environment (P360_DATA_DIR, P360_HEALTHLAKE_DB, DBT_PROFILES_DIR, REDSHIFT_*,
KAFKA_BOOTSTRAP_SERVERS, FRONT_DESK_MYSQL_*); nothing is printed about patients beyond counts and ids.
"""


def cmd_simulate_fhir(args: argparse.Namespace, settings: Settings) -> int:
    from simulators.fhir.population import PopulationConfig, generate_population, write_bulk_export

    out_dir = args.out or settings.data_dir / "exports" / f"fhir-seed{args.seed}-n{args.patients}"
    with console.status(f"generating {args.patients} patients (seed {args.seed})"):
        population = generate_population(PopulationConfig(patients=args.patients, seed=args.seed))
        counts = write_bulk_export(population, out_dir)
    total = sum(counts.values())
    per_type = ", ".join(f"{t}={n}" for t, n in sorted(counts.items()))
    console.print(f"wrote {total} FHIR resources to {out_dir}: {per_type}")
    args.written_to = out_dir
    return 0


def cmd_healthlake_import(args: argparse.Namespace, settings: Settings) -> int:
    from simulators.fhir.bulk_import import import_bulk_export

    source: Path = args.source
    if not source.exists():
        console.print(f"[red]error:[/red] {source} does not exist")
        return 2
    report = import_bulk_export(
        source, settings.data_dir, settings.healthlake_db, validate=args.validate, show_progress=sys.stderr.isatty()
    )
    for rejection in report.rejected:
        console.print(f"[yellow]rejected[/yellow] {rejection.file}:{rejection.line}: {rejection.reason}")
    console.print(report.summary())
    return 0


def run_dbt(settings: Settings, dbt_args: list[str]) -> int:
    from simulators.warehouse import ensure_attached_sources, source_read_locks

    ensure_attached_sources(settings.data_dir)
    command = [dbt_executable(), *dbt_args, "--project-dir", str(settings.project_dir)]
    # The ingestor and the replicator must not write their files while dbt has them attached (shared locks).
    with source_read_locks(settings.data_dir):
        return subprocess.run(command, env=settings.dbt_env(), cwd=settings.project_dir).returncode


def healthlake_patient_ids(settings: Settings) -> list[str]:
    """The ids of the HealthLake stand-in's Patient resources (so wearables belong to real patients)."""
    import duckdb

    if not settings.healthlake_catalog_path.exists():
        raise FileNotFoundError(f"no HealthLake stand-in at {settings.healthlake_catalog_path}")
    with duckdb.connect(str(settings.healthlake_catalog_path), read_only=True) as con:
        rows = con.execute(f'select id from "{settings.healthlake_db}".patient order by id').fetchall()
    return [row[0] for row in rows]


def cmd_simulate_wearables(args: argparse.Namespace, settings: Settings) -> int:
    import tempfile

    from simulators.wearables import producer

    forwarded = [a for a in args.producer_args if a != "--"]
    if not args.from_healthlake:
        return producer.main(forwarded)
    try:
        ids = healthlake_patient_ids(settings)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}: run `patient360 run` or `patient360 healthlake import` first")
        return 2
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as id_file:
        id_file.write("\n".join(ids) + "\n")
        id_file.flush()
        return producer.main([*forwarded, "--patient-file", id_file.name])


def cmd_stream(args: argparse.Namespace, settings: Settings) -> int:
    forwarded = [a for a in args.stream_args if a != "--"]
    if args.action == "broker":
        from simulators.zero_etl import kafka_broker

        return kafka_broker.main(forwarded)
    from simulators.zero_etl import stream_landing

    return stream_landing.main([args.action, "--data-dir", str(settings.data_dir), *forwarded])


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Land the wearable topic: once (like REFRESH MATERIALIZED VIEW) or, with --follow, until stopped."""
    from simulators.zero_etl import stream_landing

    forwarded = [a for a in getattr(args, "ingest_args", []) if a != "--"]
    return stream_landing.main(
        ["follow" if args.follow else "refresh", "--data-dir", str(settings.data_dir), *forwarded]
    )


def front_desk_source(local_server: bool, settings: Settings, *, start: bool) -> object:
    """Where the front desk lives: FRONT_DESK_MYSQL_* (Aurora or any MySQL), or the private MariaDB under the
    data dir (started when `start`, else it must be running)."""
    from simulators.front_desk.connection import MySqlSettings
    from simulators.zero_etl import mariadb_server

    if not local_server:
        return MySqlSettings.from_env()
    server = mariadb_server.running(settings.data_dir)
    if server is None:
        if not start:
            raise mariadb_server.MariaDbUnavailable(
                f"no private MariaDB running for {settings.data_dir}: "
                "run `patient360 simulate front-desk --local-server` first"
            )
        server = mariadb_server.start(settings.data_dir)
    return server.settings


def cmd_replicate(args: argparse.Namespace, settings: Settings) -> int:
    """Zero-ETL CDC: binlog of the front-desk MySQL -> the replica. --once: catch up and exit; default: follow
    until SIGTERM / Ctrl-C (exit 0)."""
    from simulators.zero_etl.mariadb_server import MariaDbUnavailable
    from simulators.zero_etl.replicator import DEFAULT_ZETL_DB, NO_PK_REASON, Replicator, ZeroEtlError

    try:
        source = front_desk_source(args.local_server, settings, start=False)
        replicator = Replicator(
            source, settings.data_dir, os.environ.get("P360_ZETL_DB", DEFAULT_ZETL_DB),  # type: ignore[arg-type]
            lock_timeout=args.lock_timeout,
        )
    except (MariaDbUnavailable, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    stop = threading.Event()
    if not args.once:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        console.print(f"replicating {source.describe()} -> {replicator.replica_path} (SIGTERM / Ctrl-C stops)")
    try:
        if args.resync:
            replicator.initialise()
            replicator.resync("requested")
        report = replicator.run(until_caught_up=args.once, timeout=args.timeout, stop=stop)
    except (ZeroEtlError, ConnectionError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    for name in report.refused:
        console.print(f"[red]refused:[/red] {replicator.database}.{name}: {NO_PK_REASON}")
    console.print(
        f"zero-ETL {replicator.database} -> {replicator.replica_path.name}: {report.transactions} transactions, "
        f"{report.row_changes} row changes in {report.batches} batches, {report.resyncs} snapshot(s), "
        f"position {report.position.checkpoint() if report.position else 'unchanged'}"
    )
    return 1 if report.refused else 0


def cmd_simulate_front_desk(args: argparse.Namespace, settings: Settings) -> int:
    """Desk operations on the source database only (schema, history, `--days` of operations); the replica
    follows with `patient360 replicate`."""
    from simulators.front_desk.__main__ import run as run_front_desk
    from simulators.zero_etl.mariadb_server import MariaDbUnavailable

    try:
        summary = run_front_desk(
            settings.data_dir, patients=args.patients, seed=args.seed, days=args.days,
            local_server=args.local_server, replicate=False, from_healthlake=False if args.synthetic else None,
            show_progress=sys.stderr.isatty(), keep_server=True,
        )
    except (MariaDbUnavailable, ConnectionError, FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    console.print(summary)
    if args.local_server:
        console.print("the private MariaDB keeps running (stop: python -m simulators.zero_etl.mariadb_server stop)")
    return 0


def cmd_continuous(args: argparse.Namespace, settings: Settings) -> int:
    from simulators.continuous import ContinuousConfig, run_continuous

    try:
        config = ContinuousConfig(
            interval_s=args.interval, duration_s=args.duration, rate=args.rate, wearers=args.wearers,
            seed=args.seed, front_desk=args.front_desk, desk_ops_per_s=args.desk_rate,
            dbt_command=args.dbt_command, select=args.select, results=args.results,
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return run_continuous(settings, config, console=console)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    if args.target == "local" and not settings.healthlake_catalog_path.exists():
        console.print(f"[red]error:[/red] no HealthLake stand-in at {settings.healthlake_catalog_path}: "
                      "run `patient360 healthlake import` or `patient360 run` first")
        return 2
    return 0 if run_dbt(settings, ["build", "--target", args.target, *args.dbt_args]) == 0 else 1


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from simulators.warehouse import connect_warehouse, relation_name

    out = Console(width=max(Console().width, 140))
    with connect_warehouse(settings) as con:
        for model, columns in SHOWN_MODELS.items():
            relation = relation_name(con, model)
            total = con.execute(f"select count(*) from {relation}").fetchone()[0]
            rows = con.execute(
                f"select {', '.join(columns)} from {relation} order by 1 limit {int(args.limit)}"
            ).fetchall()
            table = Table(title=f"{model} ({total} rows)", title_justify="left")
            for column in columns:
                table.add_column(column.split(" as ")[-1], overflow="fold")
            for row in rows:
                table.add_row(*("" if v is None else str(v) for v in row))
            out.print(table)
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    import json
    from dataclasses import asdict

    from simulators.status import collect_status

    with console.status("collecting status" + (" (dbt source freshness)" if args.freshness else "")):
        status = collect_status(settings, target=args.target, freshness=args.freshness)
    if args.json:
        print(json.dumps(asdict(status), indent=2, default=str))
    else:
        print_status(status)
    for problem in status.problems:
        console.print(f"[yellow]note:[/yellow] {problem}")
    return 1 if any(f.status in {"error", "runtime error"} for f in status.freshness) else 0


def print_status(status: object) -> None:
    from simulators.status import Status

    assert isinstance(status, Status)
    out = Console()
    for title, counts in (("source tables", status.source_tables), ("models", status.models)):
        if counts:
            table = Table(title=title, title_justify="left")
            for column in ("relation", "rows"):
                table.add_column(column, justify="right" if column == "rows" else "left")
            for c in counts:
                table.add_row(f"{c.database}.{c.schema}.{c.table}", str(c.rows))
            out.print(table)
    if status.import_jobs:
        table = Table(title="HealthLake import jobs", title_justify="left")
        for column in ("job", "submitted at", "loaded", "rejected"):
            table.add_column(column)
        for job in status.import_jobs:
            table.add_row(job.job_id, job.submitted_at, str(job.resources_loaded), str(job.resources_rejected))
        out.print(table)
    if status.rejections_by_reason:
        table = Table(title="HealthLake rejections by reason", title_justify="left")
        table.add_column("reason")
        table.add_column("resources", justify="right")
        for reason, n in status.rejections_by_reason.items():
            table.add_row(reason, str(n))
        out.print(table)
    if status.stream_offsets:
        table = Table(title="wearable stream: stored offsets (next to read)", title_justify="left")
        for column in ("topic", "partition", "next offset", "landed rows", "updated at"):
            numeric = column in {"partition", "next offset", "landed rows"}
            table.add_column(column, justify="right" if numeric else "left")
        for o in status.stream_offsets:
            table.add_row(o.topic, str(o.partition), str(o.next_offset), str(o.landed_rows), o.updated_at)
        out.print(table)
    if status.replication:
        table = Table(title="front desk zero-ETL: integration table state", title_justify="left")
        for column in ("table", "state", "rows", "last change applied", "last batch lag", "reason"):
            table.add_column(column)
        for r in status.replication:
            since = "-" if r.seconds_since_update is None else f"{r.seconds_since_update:.0f} s"
            lag = "-" if r.last_batch_lag_seconds is None else f"{r.last_batch_lag_seconds:.2f} s"
            colour = "green" if r.state == "Synced" else "red"
            table.add_row(r.table, f"[{colour}]{r.state}[/{colour}]", "-" if r.rows is None else str(r.rows),
                          f"{since} ago", lag, r.reason or "")
        out.print(table)
    if status.freshness:
        colours = {"pass": "green", "warn": "yellow"}
        table = Table(title="source freshness", title_justify="left")
        for column in ("source", "status", "last loaded at", "age"):
            table.add_column(column)
        for f in status.freshness:
            age = "-" if f.age_seconds is None else f"{f.age_seconds / 60:.1f} min"
            colour = colours.get(f.status, "red")
            table.add_row(f.source, f"[{colour}]{f.status}[/{colour}]", f.max_loaded_at or "never", age)
        out.print(table)


SHOWN_MODELS: dict[str, list[str]] = {
    "patient_360": [
        "left(patient_id, 14) as patient", "identity_source", "given_name", "age_years", "allergy_count",
        "active_condition_count", "cast(next_appointment_at as date) as next_visit",
        "round(no_show_rate, 2) as no_show_rate", "active_minutes_last_7_days as active_min_7d",
    ],
    "fct_patient_allergies": [
        "left(patient_id, 8) as patient", "category", "allergen_description", "criticality",
        "allergy_description", "is_anaphylaxis",
    ],
}


def cmd_front_desk(args: argparse.Namespace, settings: Settings) -> int:
    """The desk works on the HealthLake population (synthetic ids without it) on a private MariaDB
    (FRONT_DESK_MYSQL_* with --use-env), then the zero-ETL replicator catches up."""
    from simulators.front_desk.__main__ import run as run_front_desk
    from simulators.zero_etl.mariadb_server import MariaDbUnavailable

    try:
        summary = run_front_desk(
            settings.data_dir, seed=args.seed, days=args.days, local_server=not getattr(args, "use_env", False),
            show_progress=sys.stderr.isatty(),
        )
    except MariaDbUnavailable as exc:
        if not getattr(args, "optional", False):
            console.print(f"[red]error:[/red] {exc}")
            return 2
        console.print(f"[yellow]front desk skipped:[/yellow] {exc}; the replica stays empty")
        return 0
    except (ConnectionError, FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    console.print(summary)
    return 0


def run_wearables_step(
    settings: Settings, seed: int, wearers: int, days: int, on_landing_reset: Callable[[], None] | None = None
) -> int:
    """Devices for the first `wearers` HealthLake patients, `days` of per-minute events up to today
    (UTC midnight), produced to Kafka ($KAFKA_BOOTSTRAP_SERVERS or a local tansu for the duration) and
    landed once, like a REFRESH of the streaming view. A local broker is new (empty) on every call: the
    topic's landing then starts over and ``on_landing_reset`` is told (the stream's models need a full refresh)."""
    from datetime import UTC, datetime, timedelta

    from simulators.wearables.events import generate_events
    from simulators.wearables.faults import event_record
    from simulators.wearables.producer import default_topic, ensure_topic, produce_records
    from simulators.zero_etl.kafka_broker import BOOTSTRAP_ENV, BrokerError, kafka_bootstrap
    from simulators.zero_etl.stream_landing import LandingError, refresh, reset_topic

    patient_ids = healthlake_patient_ids(settings)[:wearers]
    if not patient_ids:
        console.print("[yellow]wearables skipped:[/yellow] no HealthLake patients")
        return 0
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = generate_events(patient_ids, seed=seed, start=today - timedelta(days=days), minutes=days * 24 * 60)
    topic = default_topic()
    try:
        with kafka_bootstrap(log_path=settings.data_dir / "tansu.log") as bootstrap:
            if not os.environ.get(BOOTSTRAP_ENV, "").strip() and landing_has_offsets(settings, topic):
                # A local broker lives for this step only: a new, empty stream whose offsets start at 0 again.
                # The landing starts over and the stream's incremental models are rebuilt in full.
                removed = reset_topic(settings.data_dir, topic)
                console.print(f"wearables: a new local broker, so the landing of {topic} starts over "
                              f"({removed} records of the previous run removed; dbt rebuilds in full)")
                if on_landing_reset is not None:
                    on_landing_reset()
            ensure_topic(bootstrap, topic)
            produced = produce_records(
                (event_record(e) for e in events), bootstrap_servers=bootstrap, topic=topic,
                show_progress=sys.stderr.isatty(),
            )
            report = refresh(bootstrap_servers=bootstrap, topic=topic, data_dir=settings.data_dir)
    except (BrokerError, LandingError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    console.print(
        f"wearables: {produced.total} events produced for {len(patient_ids)} devices, {report.landed} landed"
    )
    if report.landed < produced.total:
        console.print(f"[red]error:[/red] {produced.total - report.landed} produced events did not land")
        return 1
    return 0


def landing_has_offsets(settings: Settings, topic: str) -> bool:
    """Has a previous run landed records of ``topic`` (with their offsets) in the local landing file?"""
    from simulators.zero_etl.stream_landing import landing_path, stored_offsets

    return landing_path(settings.data_dir).exists() and bool(stored_offsets(settings.data_dir, topic))


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    full_refresh: list[str] = []
    steps = [
        ("simulate FHIR", lambda: cmd_simulate_fhir(args, settings)),
        ("import into HealthLake stand-in",
         lambda: cmd_healthlake_import(argparse.Namespace(source=args.written_to, validate=False), settings)),
        ("front desk on MariaDB + zero-ETL replica",
         lambda: cmd_front_desk(argparse.Namespace(seed=args.seed, days=1.0, optional=True), settings)),
        ("wearables on Kafka + streaming ingestion",
         lambda: run_wearables_step(settings, args.seed, args.wearers, args.wearable_days,
                                    on_landing_reset=lambda: full_refresh.append("--full-refresh"))),
        ("dbt build", lambda: cmd_build(argparse.Namespace(target="local", dbt_args=full_refresh[:1]), settings)),
    ]
    if args.show:
        steps.append(("show", lambda: cmd_show(argparse.Namespace(limit=args.show), settings)))
    for name, step in steps:
        console.rule(name)
        code = step()
        if code != 0:
            console.print(f"[red]step failed:[/red] {name} (exit {code})")
            return code
    return 0


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="patient360", description=__doc__, epilog=EXIT_CODES, formatter_class=raw)
    parser.add_argument("--data-dir", type=Path, help="local data directory (default: $P360_DATA_DIR or .local)")
    sub = parser.add_subparsers(dest="command", required=True)

    simulate = sub.add_parser("simulate", help="generate simulated source data")
    simulate_sub = simulate.add_subparsers(dest="source", required=True)
    fhir = simulate_sub.add_parser("fhir", help="synthetic FHIR R4 population as a bulk-export NDJSON folder")
    fhir.add_argument("--patients", type=int, default=100)
    fhir.add_argument("--seed", type=int, default=42)
    fhir.add_argument("--out", type=Path, help="output folder (default: <data-dir>/exports/...)")
    fhir.set_defaults(handler=cmd_simulate_fhir)

    wearables = simulate_sub.add_parser(
        "wearables", help="wearable events to Kafka", formatter_class=raw, epilog=(
            "Other options go to the producer (python -m simulators.wearables.producer --help), e.g.\n"
            "  --patients ID.. | --synthetic-patients N   who wears a device (default 10 synthetic)\n"
            "  --minutes M --interval-seconds S --seed N   how much device time, seeded\n"
            "  --rate R                                    records per second (default: as fast as possible)\n"
            "  --duplicate-rate F --malformed-rate F       producer retries / broken records\n"
            "  --topic T --bootstrap-servers HOST:PORT      default $P360_WEARABLES_TOPIC, $KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    wearables.add_argument("--from-healthlake", action="store_true", help="one device per HealthLake patient")
    wearables.set_defaults(handler=cmd_simulate_wearables, producer_args=[])

    desk = simulate_sub.add_parser(
        "front-desk", help="front-desk operations on the source MySQL/MariaDB (FRONT_DESK_MYSQL_*)",
        epilog="The schema is (re)created, 90 days of history loaded, then --days of operations, one "
               "transaction each. Patients: the HealthLake stand-in's when it exists, else --patients synthetic.",
    )
    desk.add_argument("--days", type=float, default=1.0, help="simulated days of desk operations")
    desk.add_argument("--patients", type=int, default=100, help="synthetic patients (without HealthLake)")
    desk.add_argument("--seed", type=int, default=42)
    desk.add_argument("--synthetic", action="store_true", help="synthetic patients even if HealthLake has some")
    desk.add_argument("--local-server", action="store_true",
                      help="start (or reuse) a private MariaDB under the data dir instead of FRONT_DESK_MYSQL_*")
    desk.set_defaults(handler=cmd_simulate_front_desk)

    ingest = sub.add_parser(
        "ingest", help="land the wearable Kafka topic in the warehouse (MSK streaming-ingestion stand-in)",
        formatter_class=raw, epilog=(
            "Exactly once: rows and offsets are written in one transaction. Other options go to the lander:\n"
            "  --topic T --bootstrap-servers HOST:PORT --idle-polls N --max-seconds S --max-batch-records N\n"
            "Without --follow: stops after --idle-polls empty polls (exit 0). With --follow: until SIGTERM/Ctrl-C."
        ),
    )
    ingest.add_argument("--follow", action="store_true", help="keep landing until stopped (AUTO REFRESH YES)")
    ingest.add_argument("--once", dest="follow", action="store_false", help="land what is new, then stop (default)")
    ingest.set_defaults(handler=cmd_ingest, ingest_args=[])

    replicate = sub.add_parser(
        "replicate", help="zero-ETL CDC: front-desk MySQL binlog -> the replica (follows until stopped)",
        epilog="Source: FRONT_DESK_MYSQL_HOST/_PORT/_USER/_PASSWORD/_DATABASE, or --local-server. Replica: "
               "$P360_DATA_DIR/$P360_ZETL_DB.duckdb. The first run snapshots; later runs resume at the stored "
               "binlog position. Exit 0 when caught up (--once) or stopped by SIGTERM / Ctrl-C.",
    )
    replicate.add_argument("--once", action="store_true", help="catch up to the source's current position, then exit")
    replicate.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    replicate.add_argument("--resync", action="store_true", help="take a fresh snapshot first")
    replicate.add_argument("--local-server", action="store_true", help="the private MariaDB of this data dir")
    replicate.add_argument("--lock-timeout", type=float, default=300.0,
                           help="seconds to wait while dbt holds the replica file (default 300)")
    replicate.set_defaults(handler=cmd_replicate)

    stream = sub.add_parser("stream", help="local Kafka broker; refresh|follow = `ingest` [--follow] (old name)")
    stream.add_argument("action", choices=["broker", "refresh", "follow"])
    stream.set_defaults(handler=cmd_stream, stream_args=[])

    healthlake = sub.add_parser("healthlake", help="the local AWS HealthLake stand-in")
    healthlake_sub = healthlake.add_subparsers(dest="action", required=True)
    importer = healthlake_sub.add_parser("import", help="import a FHIR bulk-export NDJSON folder (or file)")
    importer.add_argument("source", type=Path)
    importer.add_argument("--validate", action="store_true", help="reject resources that are not valid FHIR R4")
    importer.set_defaults(handler=cmd_healthlake_import)

    build = sub.add_parser("build", help="dbt build (extra arguments go to dbt)")
    build.add_argument("--target", choices=["local", "redshift"], default="local")
    build.add_argument("dbt_args", nargs=argparse.REMAINDER)
    build.set_defaults(handler=cmd_build)

    show = sub.add_parser("show", help="print a few rows of the patient tables")
    show.add_argument("--limit", type=int, default=5)
    show.set_defaults(handler=cmd_show)

    status = sub.add_parser(
        "status", help="per source: row counts, stream offsets, replication lag, freshness; HealthLake jobs",
        epilog="Exit 1 when a source is past its error_after (dbt source freshness), else 0.",
    )
    status.add_argument("--target", choices=["local", "redshift"], default="local",
                        help="redshift: freshness only (counts are read from the local DuckDB files)")
    status.add_argument("--no-freshness", dest="freshness", action="store_false",
                        help="skip `dbt source freshness` (a few seconds)")
    status.add_argument("--json", action="store_true", help="print the status as JSON on stdout")
    status.set_defaults(handler=cmd_status)

    front_desk = sub.add_parser("front-desk", help="front-desk operations on MySQL/MariaDB + zero-ETL replica")
    front_desk.add_argument("--days", type=float, default=1.0, help="simulated days of desk operations")
    front_desk.add_argument("--seed", type=int, default=42)
    front_desk.add_argument("--use-env", action="store_true", help="the MySQL FRONT_DESK_MYSQL_* points at")
    front_desk.set_defaults(handler=cmd_front_desk)

    run = sub.add_parser("run", help="simulate, import and build once, on the local target")
    run.add_argument("--patients", type=int, default=50)
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--show", type=int, default=5, help="rows to print at the end (0: none)")
    run.add_argument("--wearers", type=int, default=10, help="patients with a wearable device")
    run.add_argument("--wearable-days", type=int, default=2, help="days of per-minute wearable events")
    run.set_defaults(handler=cmd_run, out=None)

    continuous = sub.add_parser(
        "continuous", help="near real time: stream and replica flowing, marts rebuilt every interval",
        formatter_class=raw, epilog=(
            "Needs a HealthLake stand-in (patient360 run, or healthlake import). Starts a local Kafka broker unless\n"
            "KAFKA_BOOTSTRAP_SERVERS is set, produces wearable events stamped with the current time, keeps\n"
            "`ingest --follow` and (front desk on) `replicate` running as child processes with desk operations\n"
            "trickling in, and runs `dbt <command> --select <select>` every --interval seconds. After each build it\n"
            "reads patient_360.last_wearable_event_at: an event is visible once that reaches its event time.\n"
            "Prints produced -> visible p50 / p95; exit 1 if no event became visible, 0 otherwise."
        ),
    )
    continuous.add_argument("--interval", type=float, default=10.0, help="seconds between incremental builds")
    continuous.add_argument("--duration", type=float, default=120.0, help="seconds to run, then stop cleanly")
    continuous.add_argument("--rate", type=float, default=20.0, help="wearable events per second")
    continuous.add_argument("--wearers", type=int, default=10, help="patients with a wearable device")
    continuous.add_argument("--seed", type=int, default=42)
    continuous.add_argument("--front-desk", choices=["auto", "on", "off"], default="auto",
                            help="replicate a trickling front desk (auto: when MariaDB or FRONT_DESK_MYSQL_HOST)")
    continuous.add_argument("--desk-rate", type=float, default=1.0, help="front-desk operations per second")
    continuous.add_argument("--dbt-command", choices=["build", "run"], default="build",
                            help="build (models + their tests, default) or run (models only)")
    continuous.add_argument("--select", default="source:wearables_msk+ source:front_desk+",
                            help="what each interval rebuilds (dbt selection; default: downstream of the stream "
                                 "and the replica)")
    continuous.add_argument("--results", type=Path, help="write the freshness samples and summary here (JSON)")
    continuous.set_defaults(handler=cmd_continuous)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `build`, `simulate wearables` and `stream` forward their options (dbt's, the module's own). Options
    # argparse did not know come before the first plain word, which starts any REMAINDER list.
    forwarding = next(
        (n for n in ("dbt_args", "producer_args", "stream_args", "ingest_args") if hasattr(args, n)), None
    )
    if extra and forwarding is None:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if forwarding is not None:
        setattr(args, forwarding, [*extra, *getattr(args, forwarding)])
    settings = load_settings(args.data_dir)
    if getattr(args, "patients", 1) < 1:
        console.print("[red]error:[/red] --patients must be at least 1")
        return 2
    return args.handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
