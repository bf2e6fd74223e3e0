"""Continuous mode: the stream and the replica keep flowing while the marts are rebuilt on an interval.

    patient360 continuous --interval 10 --duration 120 --rate 20

* Kafka: ``$KAFKA_BOOTSTRAP_SERVERS`` or a local tansu broker for the duration.
* Wearables: one device per HealthLake patient (the first ``wearers``), events stamped with the current time,
  produced at ``rate`` per second from a thread; every event is a freshness sample (patient, event time,
  produced at).
* ``patient360 ingest --follow`` and ``patient360 replicate`` run as child processes (SIGTERM at the end);
  front-desk operations trickle into the source database (one transaction each) from a thread.
* Every ``interval`` seconds: ``dbt build --select <select>`` (default: everything downstream of the stream
  and the replica), then ``patient_360.last_wearable_event_at`` is read: a sample is visible once its patient's
  value reaches the sample's event time. produced -> visible is the end-to-end freshness.

DuckDB has one writer per file: while dbt has the landing and the replica attached, the ingestor and the
replicator wait (flock / retried open), so a build pauses ingestion. Builds start at most once per interval and
leave a gap of at least ``min_gap_s`` so the writers always get their turn.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from simulators.progress import progress_bar
from simulators.settings import Settings, dbt_executable

FRONT_DESK_CHOICES = ("auto", "on", "off")
CHILD_STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ContinuousConfig:
    interval_s: float = 10.0
    duration_s: float = 120.0
    rate: float = 20.0
    wearers: int = 10
    seed: int = 42
    front_desk: str = "auto"
    desk_ops_per_s: float = 1.0
    dbt_command: str = "build"
    select: str = "source:wearables_msk+ source:front_desk+"
    results: Path | None = None
    min_gap_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("interval_s", "duration_s", "rate", "desk_ops_per_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.removesuffix('_s').replace('_', '-')} must be positive, "
                                 f"got {getattr(self, name)}")
        if self.wearers < 1:
            raise ValueError(f"--wearers must be at least 1, got {self.wearers}")
        if self.front_desk not in FRONT_DESK_CHOICES:
            raise ValueError(f"--front-desk must be one of {', '.join(FRONT_DESK_CHOICES)}, got {self.front_desk!r}")
        if self.dbt_command not in ("build", "run"):
            raise ValueError(f"--dbt-command must be build or run, got {self.dbt_command!r}")
        if not self.select.split():
            raise ValueError("--select must name something to rebuild")


@dataclass
class BuildRecord:
    started_s: float  # seconds since the clock started
    seconds: float
    returncode: int
    newly_visible: int


@dataclass
class FreshnessReport:
    interval_s: float
    duration_s: float
    rate: float
    dbt_command: str
    select: str
    cores: int
    produced: int = 0
    visible: int = 0
    not_visible: int = 0
    latencies_s: list[float] = field(default_factory=list)
    landed_latencies_s: list[float] = field(default_factory=list)
    builds: list[BuildRecord] = field(default_factory=list)
    front_desk_operations: int = 0
    front_desk_skipped: int = 0
    front_desk: str = "off"
    failed: str | None = None

    def percentile(self, values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> dict[str, Any]:
        build_seconds = [b.seconds for b in self.builds]
        return {
            "interval_s": self.interval_s, "duration_s": self.duration_s, "rate_events_per_s": self.rate,
            "dbt_command": self.dbt_command, "select": self.select, "cores": self.cores,
            "events_produced": self.produced, "samples_visible": self.visible, "samples_not_visible": self.not_visible,
            "freshness_p50_s": self.percentile(self.latencies_s, 0.5),
            "freshness_p95_s": self.percentile(self.latencies_s, 0.95),
            "freshness_max_s": max(self.latencies_s) if self.latencies_s else None,
            "landed_p50_s": self.percentile(self.landed_latencies_s, 0.5),
            "landed_p95_s": self.percentile(self.landed_latencies_s, 0.95),
            "builds": len(self.builds), "build_failures": sum(1 for b in self.builds if b.returncode != 0),
            "build_p50_s": statistics.median(build_seconds) if build_seconds else None,
            "build_max_s": max(build_seconds) if build_seconds else None,
            "front_desk": self.front_desk, "front_desk_operations": self.front_desk_operations,
            "front_desk_skipped": self.front_desk_skipped, "failed": self.failed,
        }

    def lines(self) -> list[str]:
        s = self.summary()

        def fmt(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f} s"

        return [
            f"end-to-end freshness (event produced -> visible in patient_360), {self.cores} cores, "
            f"dbt {self.dbt_command} every {self.interval_s:g} s, {self.rate:g} events/s for {self.duration_s:g} s:",
            f"  p50 {fmt(s['freshness_p50_s'])}   p95 {fmt(s['freshness_p95_s'])}   max {fmt(s['freshness_max_s'])}"
            f"   ({s['samples_visible']} of {s['events_produced']} events visible, {s['samples_not_visible']} not)",
            f"  produced -> landed (refresh_time): p50 {fmt(s['landed_p50_s'])}   p95 {fmt(s['landed_p95_s'])}",
            f"  builds: {s['builds']} ({s['build_failures']} failed), median {fmt(s['build_p50_s'])}, "
            f"max {fmt(s['build_max_s'])}",
            f"  front desk: {s['front_desk']}, {s['front_desk_operations']} operations replicated live"
            + (f" ({s['front_desk_skipped']} skipped: clashed with existing rows)" if s["front_desk_skipped"] else ""),
        ]


# --- wearables: events stamped now, every one a sample ------------------------------------------------


@dataclass
class Samples:
    """Produced events not yet seen in patient_360: per patient, (event time, produced at) in order."""

    pending: dict[str, deque[tuple[datetime, float]]] = field(default_factory=dict)
    produced: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, patient_id: str, event_time: datetime, produced_at: float) -> None:
        with self.lock:
            self.pending.setdefault(patient_id, deque()).append((event_time, produced_at))
            self.produced += 1

    def resolve(self, last_event_at: dict[str, datetime], seen_at: float) -> list[float]:
        """Samples whose patient's last_wearable_event_at reached their event time: their latencies."""
        latencies = []
        with self.lock:
            for patient_id, queue in self.pending.items():
                reached = last_event_at.get(patient_id)
                while queue and reached is not None and queue[0][0] <= reached:
                    _, produced_at = queue.popleft()
                    latencies.append(seen_at - produced_at)
        return latencies

    def remaining(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.pending.values())


def produce_live(
    bootstrap: str, topic: str, patient_ids: list[str], seed: int, rate: float, samples: Samples,
    stop: threading.Event, errors: list[BaseException],
) -> None:
    """Wearable events with event_time = now, round robin over the devices, ``rate`` per second."""
    from simulators.wearables.events import DeviceState
    from simulators.wearables.producer import HEADERS, make_producer

    try:
        devices = [DeviceState(seed, pid) for pid in patient_ids]
        producer = make_producer(bootstrap, linger_ms=5)
        try:
            started = time.monotonic()
            sent = 0
            while not stop.is_set():
                device = devices[sent % len(devices)]
                now = datetime.now(UTC)
                moment = now.replace(microsecond=now.microsecond // 1000 * 1000)
                event = device.tick(moment, 1)
                produced_at = time.time()
                producer.send(topic, key=event.patient_id.encode(), value=event.to_json(), headers=HEADERS)
                samples.add(event.patient_id, moment.replace(tzinfo=None), produced_at)
                sent += 1
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    stop.wait(ahead)
                if sent % max(1, int(rate)) == 0:
                    producer.flush(timeout=10)
            producer.flush(timeout=10)
        finally:
            producer.close(timeout=10)
    except BaseException as exc:  # reported by the main loop
        errors.append(exc)


# --- front desk: operations trickling into the source -------------------------------------------------


@dataclass
class DeskCounts:
    applied: int = 0
    skipped: int = 0


def trickle_front_desk(
    source: Any, people: list[Any], seed: int, ops_per_s: float, stop: threading.Event, counts: DeskCounts,
    errors: list[BaseException],
) -> None:
    """One desk operation (one transaction) every 1/ops_per_s seconds. The table may hold rows this simulator
    does not know (an earlier run): an operation that clashes with them is rolled back and skipped."""
    import pymysql

    from simulators.front_desk.connection import connect
    from simulators.front_desk.operations import FrontDeskSimulator, apply

    try:
        simulator = FrontDeskSimulator(people, seed=seed, start=datetime.now(), mrn_only_share=0.1)
        con = connect(source)
        try:
            for operation in simulator.run(days=3650):
                if stop.wait(1.0 / ops_per_s):
                    break
                try:
                    apply([operation], con)
                    counts.applied += 1
                except (RuntimeError, pymysql.err.IntegrityError):
                    counts.skipped += 1
        finally:
            con.close()
    except BaseException as exc:
        errors.append(exc)


def prepare_front_desk(settings: Settings, mode: str, console: Console) -> tuple[Any, Any, list[Any]] | None:
    """(source settings, server started here or None, desk patients), or None when the front desk is off."""
    from simulators.front_desk.connection import MySqlSettings, connect
    from simulators.front_desk.operations import FrontDeskSimulator, apply
    from simulators.front_desk.patients import patients_from_healthlake
    from simulators.front_desk.schema import TABLE, create_schema
    from simulators.zero_etl import mariadb_server

    if mode == "off":
        return None
    started = None
    if os.environ.get("FRONT_DESK_MYSQL_HOST"):
        source = MySqlSettings.from_env()
    elif mariadb_server.is_installed():
        server = mariadb_server.running(settings.data_dir)
        if server is None:
            server = started = mariadb_server.start(settings.data_dir)
        source = server.settings
    elif mode == "on":
        raise mariadb_server.MariaDbUnavailable("front desk on, but neither FRONT_DESK_MYSQL_HOST nor MariaDB")
    else:
        console.print("[yellow]front desk off:[/yellow] no FRONT_DESK_MYSQL_HOST and MariaDB is not installed")
        return None
    people = patients_from_healthlake(
        settings.healthlake_catalog_path, settings.healthlake_db
    )
    con = connect(source, with_database=False)
    try:
        with con.cursor() as cur:
            cur.execute(
                "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                (source.database, TABLE),
            )
            exists = cur.fetchone()[0] > 0
        if not exists:
            create_schema(con, source.database, drop=False)
            con.select_db(source.database)
            apply(FrontDeskSimulator(people, seed=1, start=datetime.now(), mrn_only_share=0.1).history(), con)
    finally:
        con.close()
    return source, started, people


# --- child processes -----------------------------------------------------------------------------------


def cli_command(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "simulators.cli", "--data-dir", str(settings.data_dir), *args]


@contextmanager
def child_process(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child for the duration; SIGTERM (clean stop, exit 0 expected) then SIGKILL after a bounded wait."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=CHILD_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=CHILD_STOP_TIMEOUT_S)


# --- the loop --------------------------------------------------------------------------------------------


def reset_stream_landing_if_foreign(settings: Settings, topic: str, cluster_id: str, console: Console) -> bool:
    """A local broker is in memory: offsets stored from an earlier one point nowhere. Start the topic's landing
    over (the wearables models are then full-refreshed). Returns whether it was reset."""
    from simulators.zero_etl.stream_landing import (
        STATE_SCHEMA,
        connect_with_retry,
        default_schema,
        landing_lock,
        landing_path,
        landing_table,
        stored_offsets,
    )

    if not landing_path(settings.data_dir).exists():
        return False
    stored = stored_offsets(settings.data_dir, topic)
    if not stored or all(cluster in (None, cluster_id) for _, cluster in stored.values()):
        return False
    with landing_lock(settings.data_dir, shared=False, timeout_s=120):
        con = connect_with_retry(landing_path(settings.data_dir), timeout_s=120)
        try:
            con.execute("begin transaction")
            con.execute(f"delete from {landing_table(default_schema(), topic)}")
            con.execute(f"delete from {STATE_SCHEMA}.consumer_offsets where topic = ?", [topic])
            con.execute("commit")
        finally:
            con.close()
    console.print(f"[yellow]note:[/yellow] the landing of {topic} came from a local broker that is gone: "
                  "it starts over, the wearables models are rebuilt from scratch")
    return True


def landed_offsets(settings: Settings, topic: str) -> int:
    """Records landed from the topic so far: the sum of the stored next offsets over its partitions."""
    from simulators.zero_etl.stream_landing import stored_offsets

    return sum(next_offset for next_offset, _ in stored_offsets(settings.data_dir, topic).values())


def wait_until_landed(settings: Settings, topic: str, target: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while landed_offsets(settings, topic) < target:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def dbt_command(settings: Settings, *args: str) -> list[str]:
    return [
        dbt_executable(), *args, "--target", "local", "--project-dir", str(settings.project_dir),
        "--target-path", str(settings.data_dir / "dbt-target-continuous"),
        "--log-path", str(settings.data_dir / "dbt-logs-continuous"), "--quiet",
    ]


LOCK_CONFLICT = b"Could not set lock on file"
LOCK_RETRIES = 20


def run_dbt_locked(settings: Settings, command: list[str], log_path: Path, timeout_s: float = 900) -> int:
    """dbt under the sources' shared locks (the ingestor and the replicator wait between batches). Should a
    writer that ignores the locks still meet dbt's read-only ATTACH at start (nothing built yet), dbt is started
    again."""
    from simulators.warehouse import source_read_locks

    for _ in range(LOCK_RETRIES):
        with source_read_locks(settings.data_dir):
            completed = subprocess.run(
                command, env=settings.dbt_env(), cwd=settings.project_dir, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=timeout_s, check=False,
            )
        with log_path.open("ab") as log:
            log.write(completed.stdout)
        if completed.returncode == 0 or LOCK_CONFLICT not in completed.stdout:
            return completed.returncode
        time.sleep(0.3)
    return completed.returncode


def last_event_times(settings: Settings, patient_ids: list[str]) -> dict[str, datetime]:
    from simulators.warehouse import relation_name

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        relation = relation_name(con, "patient_360")
        rows = con.execute(
            f"select patient_id, last_wearable_event_at from {relation} "
            "where patient_id in (select unnest(?)) and last_wearable_event_at is not null",
            [patient_ids],
        ).fetchall()
    finally:
        con.close()
    return {pid: ts for pid, ts in rows}


def landed_latencies(settings: Settings, since: datetime) -> list[float]:
    """event time (= produced) -> refresh_time of the refresh that landed it, for this run's events."""
    from simulators.warehouse import relation_name

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        relation = relation_name(con, "stg_wearables__events")
        rows = con.execute(
            f"select epoch(refresh_time) - epoch(event_time) from {relation} where event_time >= ?", [since]
        ).fetchall()
    finally:
        con.close()
    return [float(r[0]) for r in rows]


def warehouse_has_patient_360(settings: Settings) -> bool:
    from simulators.warehouse import relation_name

    if not settings.warehouse_path.exists():
        return False
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        relation_name(con, "patient_360")
        return True
    except LookupError:
        return False
    finally:
        con.close()


def run_continuous(settings: Settings, config: ContinuousConfig, *, console: Console) -> int:
    from simulators.cli import healthlake_patient_ids
    from simulators.warehouse import ensure_attached_sources
    from simulators.wearables.producer import default_topic, ensure_topic
    from simulators.zero_etl import mariadb_server
    from simulators.zero_etl.kafka_broker import BOOTSTRAP_ENV, BrokerError, start_local_broker

    try:
        patient_ids = healthlake_patient_ids(settings)[: config.wearers]
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}: run `patient360 run` or `patient360 healthlake import` first")
        return 2
    if not patient_ids:
        console.print("[red]error:[/red] the HealthLake stand-in holds no patients")
        return 2
    logs = settings.data_dir / "continuous-logs"
    logs.mkdir(parents=True, exist_ok=True)
    report = FreshnessReport(
        interval_s=config.interval_s, duration_s=config.duration_s, rate=config.rate,
        dbt_command=config.dbt_command, select=config.select, cores=os.cpu_count() or 1,
    )
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    broker = None
    desk_server = None
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []
    try:
        topic = default_topic()
        bootstrap = os.environ.get(BOOTSTRAP_ENV, "").strip()
        if not bootstrap:
            broker = start_local_broker(log_path=logs / "tansu.log")
            bootstrap = broker.bootstrap_servers
        ensure_topic(bootstrap, topic)
        ensure_attached_sources(settings.data_dir)
        fresh_stream = broker is not None and reset_stream_landing_if_foreign(
            settings, topic, broker.cluster_id, console
        )
        try:
            desk = prepare_front_desk(settings, config.front_desk, console)
        except (mariadb_server.MariaDbUnavailable, ConnectionError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 2
        env = {**settings.dbt_env(), BOOTSTRAP_ENV: bootstrap}
        replicate_child = (
            child_process(cli_command(settings, "replicate"), {**env, **desk[0].as_env()}, logs / "replicate.log")
            if desk else nullcontext()
        )
        with (
            child_process(cli_command(settings, "ingest", "--follow"), env, logs / "ingest.log") as ingest,
            replicate_child as replicate,
        ):
            if desk:
                desk_server = desk[1]
                report.front_desk = desk[0].describe()
            built = warehouse_has_patient_360(settings)
            if fresh_stream or not built:
                # First build: everything (or the wearables from scratch), before the clock starts.
                first = ["build", "--full-refresh", "--select", "source:wearables_msk+"] if built else ["build"]
                with console.status("initial dbt build (before the clock starts)"):
                    code = run_dbt_locked(settings, dbt_command(settings, *first), logs / "dbt.log")
                if code != 0:
                    console.print(f"[red]error:[/red] the initial dbt build failed: see {logs / 'dbt.log'}")
                    return 1
            samples = Samples()
            landed_before = landed_offsets(settings, topic)
            run_started_utc = datetime.now(UTC).replace(tzinfo=None)
            threads.append(threading.Thread(
                target=produce_live, name="wearables",
                args=(bootstrap, topic, patient_ids, config.seed, config.rate, samples, stop, errors), daemon=True,
            ))
            desk_counts = DeskCounts()
            if desk:
                threads.append(threading.Thread(
                    target=trickle_front_desk, name="front-desk",
                    args=(desk[0], desk[2], config.seed, config.desk_ops_per_s, stop, desk_counts, errors),
                    daemon=True,
                ))
            for thread in threads:
                thread.start()
            clock = time.monotonic()
            command = dbt_command(settings, config.dbt_command, "--select", *config.select.split())
            with progress_bar(sys.stderr.isatty()) as progress:
                task = progress.add_task("continuous", total=config.duration_s)
                final = False
                while True:
                    elapsed = time.monotonic() - clock
                    if elapsed >= config.duration_s or stop.is_set() or errors:
                        final = True
                        stop.set()  # producers stop; one last build shows what they sent
                        for thread in threads:
                            thread.join(timeout=30)
                        # the last events reach the landing before the last build (bounded wait)
                        wait_until_landed(settings, topic, landed_before + samples.produced, timeout_s=30)
                    for child, name in ((ingest, "ingest"), (replicate, "replicate")):
                        if isinstance(child, subprocess.Popen) and child.poll() is not None:
                            report.failed = f"{name} exited with {child.returncode}: see {logs / (name + '.log')}"
                    if report.failed:
                        break
                    build_start = time.monotonic()
                    code = run_dbt_locked(settings, command, logs / "dbt.log")
                    seen_at = time.time()
                    newly = samples.resolve(last_event_times(settings, patient_ids), seen_at) if code == 0 else []
                    report.latencies_s += newly
                    report.builds.append(BuildRecord(
                        round(build_start - clock, 3), round(time.monotonic() - build_start, 3), code, len(newly)
                    ))
                    if code != 0:
                        report.failed = f"dbt {config.dbt_command} failed (exit {code}): see {logs / 'dbt.log'}"
                        break
                    p50 = report.percentile(report.latencies_s, 0.5)
                    progress.update(
                        task, completed=min(config.duration_s, time.monotonic() - clock),
                        description=f"continuous: {len(report.builds)} builds, {len(report.latencies_s)} visible"
                                    + (f", p50 {p50:.1f} s" if p50 is not None else ""),
                    )
                    if final:
                        break
                    # next build: one interval after this one started, and never without a gap for the writers
                    next_start = max(build_start + config.interval_s, time.monotonic() + config.min_gap_s)
                    stop.wait(max(0.0, next_start - time.monotonic()))
            report.produced = samples.produced
            report.visible = len(report.latencies_s)
            report.not_visible = samples.remaining()
            report.front_desk_operations, report.front_desk_skipped = desk_counts.applied, desk_counts.skipped
            if errors:
                report.failed = report.failed or f"{type(errors[0]).__name__}: {errors[0]}"
            with suppress(duckdb.Error, LookupError):
                report.landed_latencies_s = landed_latencies(settings, run_started_utc)
    except BrokerError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if broker is not None:
            broker.stop()
        if desk_server is not None:
            mariadb_server.stop(desk_server)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    for line in report.lines():
        print(line)
    if report.failed:
        console.print(f"[red]error:[/red] {report.failed}")
    if config.results:
        config.results.parent.mkdir(parents=True, exist_ok=True)
        payload = {"summary": report.summary(), "builds": [asdict(b) for b in report.builds],
                   "latencies_s": [round(v, 3) for v in report.latencies_s]}
        config.results.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    if report.failed or report.visible == 0:
        return 1
    return 0
