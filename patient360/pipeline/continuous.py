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
import pymysql
from rich.console import Console

from patient360.console import interactive, progress_bar
from patient360.dbt import run_dbt
from patient360.local_aws.attachments import ensure_attached_sources
from patient360.local_aws.healthlake.catalog import front_desk_patients
from patient360.local_aws.streaming.kafka_client import HEADERS, make_producer
from patient360.local_aws.zero_etl.mysql import connect
from patient360.pipeline.endpoints import (
    FrontDeskEndpoint,
    StreamEndpoint,
    front_desk,
    front_desk_available,
    stream_for_step,
    stream_source_selector,
)
from patient360.pipeline.wearables import ensure_stream, kinesis_client_for, landed_records, start_over_if_new_stream
from patient360.settings import Settings
from patient360.warehouse import has_model, relation_name
from simulators.front_desk.operations import FrontDeskPatient, FrontDeskSimulator, apply
from simulators.front_desk.schema import TABLE, create_schema
from simulators.wearables.events import DeviceState

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


class KafkaLiveSender:
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka.topic
        self.producer = make_producer(str(settings.kafka.bootstrap_servers), settings.kafka.client_config(),
                                      linger_ms=5)

    def send(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.topic, key=key, value=value, headers=HEADERS)

    def flush(self) -> None:
        self.producer.flush(timeout=10)

    def close(self) -> None:
        self.producer.close(timeout=10)


class KinesisLiveSender:
    """One PutRecord per event (at a live rate there is no batch to fill)."""

    def __init__(self, settings: Settings, stream: StreamEndpoint) -> None:
        self.client = kinesis_client_for(settings, stream)
        self.stream = settings.kinesis.stream

    def send(self, key: bytes, value: bytes) -> None:
        self.client.put_record(StreamName=self.stream, Data=value, PartitionKey=key.decode())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def produce_live(
    sender: KafkaLiveSender | KinesisLiveSender, patient_ids: list[str], seed: int, rate: float,
    samples: Samples, stop: threading.Event, errors: list[BaseException],
) -> None:
    """Wearable events with event_time = now, round robin over the devices, ``rate`` per second."""
    try:
        devices = [DeviceState(seed, pid) for pid in patient_ids]
        try:
            started = time.monotonic()
            sent = 0
            while not stop.is_set():
                device = devices[sent % len(devices)]
                now = datetime.now(UTC)
                moment = now.replace(microsecond=now.microsecond // 1000 * 1000)
                event = device.tick(moment, 1)
                produced_at = time.time()
                sender.send(event.patient_id.encode(), event.to_json())
                samples.add(event.patient_id, moment.replace(tzinfo=None), produced_at)
                sent += 1
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    stop.wait(ahead)
                if sent % max(1, int(rate)) == 0:
                    sender.flush()
            sender.flush()
        finally:
            sender.close()
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


def prepare_front_desk(settings: Settings, mode: str) -> tuple[FrontDeskEndpoint, list[FrontDeskPatient]] | None:
    """The front-desk source (with the app's table and some history) and its patients; None when off."""
    if mode == "off" or (mode == "auto" and not front_desk_available(settings)):
        return None
    endpoint = front_desk(settings, start=True)
    people = front_desk_patients(settings.healthlake_catalog_path, settings.healthlake_db)
    con = connect(endpoint.mysql, with_database=False)
    try:
        with con.cursor() as cur:
            cur.execute(
                "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                (endpoint.mysql.database, TABLE),
            )
            exists = (cur.fetchone() or (0,))[0] > 0
        if not exists:
            create_schema(con, endpoint.mysql.database, drop=False)
            con.select_db(endpoint.mysql.database)
            apply(FrontDeskSimulator(people, seed=1, start=datetime.now(), mrn_only_share=0.1).history(), con)
    finally:
        con.close()
    return endpoint, people


def last_event_times(settings: Settings, patient_ids: list[str]) -> dict[str, datetime]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        relation = relation_name(con, "patient_360")
        rows = con.execute(
            f"select patient_id, last_wearable_event_at from {relation} "
            "where patient_id in (select unnest(?)) and last_wearable_event_at is not null",
            [patient_ids],
        ).fetchall()
    return {pid: ts for pid, ts in rows}


def landed_latencies(settings: Settings, since: datetime) -> list[float]:
    """event time (= produced) -> refresh_time of the refresh that landed it, for this run's events."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        relation = relation_name(con, "stg_wearables__events")
        rows = con.execute(
            f"select epoch(refresh_time) - epoch(event_time) from {relation} where event_time >= ?", [since]
        ).fetchall()
    return [float(r[0]) for r in rows]


# --- child processes -----------------------------------------------------------------------------------


def cli_command(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "patient360", "--data-dir", str(settings.data_dir), *args]


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


def wait_until_landed(settings: Settings, target: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while landed_records(settings) < target:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


# --- the loop --------------------------------------------------------------------------------------------


class ContinuousRun:
    """One continuous run: sources flowing from threads and child processes, a dbt build every interval."""

    def __init__(self, settings: Settings, config: ContinuousConfig, console: Console) -> None:
        self.settings = settings
        self.config = config
        self.console = console
        self.logs = settings.data_dir / "continuous-logs"
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.samples = Samples()
        # The default selection names the MSK source; on Kinesis the same models hang off wearables_kds.
        self.select = config.select.replace("source:wearables_msk+", stream_source_selector(settings))
        self.stream = StreamEndpoint(settings.stream_kind, None)
        self.desk_counts = DeskCounts()
        self.report = FreshnessReport(
            interval_s=config.interval_s, duration_s=config.duration_s, rate=config.rate,
            dbt_command=config.dbt_command, select=config.select, cores=os.cpu_count() or 1,
        )

    def run(self, patient_ids: list[str]) -> int:
        """Exit code: 0 when samples became visible, 1 when none did or a part failed."""
        self.logs.mkdir(parents=True, exist_ok=True)
        previous = {s: signal.signal(s, lambda *_: self.stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            with stream_for_step(self.settings, self.logs) as stream:
                self._flow(patient_ids, stream)
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join(timeout=30)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self._finish()

    def _flow(self, patient_ids: list[str], stream: StreamEndpoint) -> None:
        settings = (self.settings.with_kinesis(endpoint_url=stream.address) if stream.kind == "kinesis"
                    else self.settings.with_kafka(bootstrap_servers=stream.address))
        self.stream = stream
        ensure_stream(settings, stream)
        ensure_attached_sources(settings)
        fresh_stream = stream.new_stream and start_over_if_new_stream(settings) is not None
        desk = prepare_front_desk(settings, self.config.front_desk)
        if desk is not None:
            settings = settings.with_front_desk(desk[0].mysql)
            self.report.front_desk = desk[0].mysql.describe()
        try:
            self._with_children(settings, patient_ids, desk, fresh_stream)
        finally:
            if desk is not None:
                desk[0].stop_if_started_here()

    def _with_children(self, settings: Settings, patient_ids: list[str], desk: Any, fresh_stream: bool) -> None:
        env = settings.child_env()
        replicate_child = (child_process(cli_command(settings, "replicate"), env, self.logs / "replicate.log")
                           if desk else nullcontext())
        with (
            child_process(cli_command(settings, "ingest", "--follow"), env, self.logs / "ingest.log") as ingest,
            replicate_child as replicate,
        ):
            if not self._initial_build(fresh_stream):
                return
            landed_before = landed_records(settings)
            run_started_utc = datetime.now(UTC).replace(tzinfo=None)
            self._start_threads(settings, patient_ids, desk)
            self._build_loop(settings, {"ingest": ingest, "replicate": replicate}, landed_before)
            with suppress(duckdb.Error, LookupError):
                self.report.landed_latencies_s = landed_latencies(settings, run_started_utc)

    def _initial_build(self, fresh_stream: bool) -> bool:
        """Everything (or the wearables from scratch), before the clock starts."""
        built = has_model(self.settings, "patient_360")
        if built and not fresh_stream:
            return True
        first = ["build", "--full-refresh", "--select", stream_source_selector(self.settings)] if built else ["build"]
        with self.console.status("initial dbt build (before the clock starts)"):
            result = run_dbt(self.settings, *first, target="local", target_name="continuous")
        if not result.ok:
            self.report.failed = f"the initial dbt build failed: see {result.log_path}"
        return result.ok

    def _start_threads(self, settings: Settings, patient_ids: list[str], desk: Any) -> None:
        config = self.config
        sender = (KinesisLiveSender(settings, self.stream) if self.stream.kind == "kinesis"
                  else KafkaLiveSender(settings))
        self.threads.append(threading.Thread(
            target=produce_live, name="wearables", daemon=True,
            args=(sender, patient_ids, config.seed, config.rate, self.samples, self.stop, self.errors),
        ))
        if desk:
            self.threads.append(threading.Thread(
                target=trickle_front_desk, name="front-desk", daemon=True,
                args=(desk[0].mysql, desk[1], config.seed, config.desk_ops_per_s, self.stop, self.desk_counts,
                      self.errors),
            ))
        for thread in self.threads:
            thread.start()

    def _build_loop(self, settings: Settings, children: dict[str, Any], landed_before: int) -> None:
        config, clock = self.config, time.monotonic()
        with progress_bar(interactive()) as progress:
            task = progress.add_task("continuous", total=config.duration_s)
            while True:
                final = time.monotonic() - clock >= config.duration_s or self.stop.is_set() or bool(self.errors)
                if final:
                    self._drain(settings, landed_before)
                self._check_children(children)
                if self.report.failed or not self._build(clock):
                    return
                progress.update(task, completed=min(config.duration_s, time.monotonic() - clock),
                                description=self._progress_text())
                if final:
                    return
                # next build: one interval after this one started, and never without a gap for the writers
                build_start = clock + self.report.builds[-1].started_s
                next_start = max(build_start + config.interval_s, time.monotonic() + config.min_gap_s)
                self.stop.wait(max(0.0, next_start - time.monotonic()))

    def _drain(self, settings: Settings, landed_before: int) -> None:
        """Producers stop; their last events reach the landing before one last build (bounded wait)."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        wait_until_landed(settings, landed_before + self.samples.produced, timeout_s=30)

    def _check_children(self, children: dict[str, Any]) -> None:
        for name, child in children.items():
            if isinstance(child, subprocess.Popen) and child.poll() is not None:
                self.report.failed = f"{name} exited with {child.returncode}: see {self.logs / (name + '.log')}"

    def _build(self, clock: float) -> bool:
        build_start = time.monotonic()
        result = run_dbt(self.settings, self.config.dbt_command, "--select", *self.select.split(),
                         target="local", target_name="continuous")
        seen_at = time.time()
        patient_ids = list(self.samples.pending)
        newly = self.samples.resolve(last_event_times(self.settings, patient_ids), seen_at) if result.ok else []
        self.report.latencies_s += newly
        self.report.builds.append(BuildRecord(
            round(build_start - clock, 3), round(time.monotonic() - build_start, 3), result.returncode, len(newly)
        ))
        if not result.ok:
            self.report.failed = (f"dbt {self.config.dbt_command} failed (exit {result.returncode}): "
                                  f"see {result.log_path}")
        return result.ok

    def _progress_text(self) -> str:
        p50 = self.report.percentile(self.report.latencies_s, 0.5)
        return (f"continuous: {len(self.report.builds)} builds, {len(self.report.latencies_s)} visible"
                + (f", p50 {p50:.1f} s" if p50 is not None else ""))

    def _finish(self) -> int:
        report = self.report
        report.produced = self.samples.produced
        report.visible = len(report.latencies_s)
        report.not_visible = self.samples.remaining()
        report.front_desk_operations, report.front_desk_skipped = self.desk_counts.applied, self.desk_counts.skipped
        if self.errors:
            report.failed = report.failed or f"{type(self.errors[0]).__name__}: {self.errors[0]}"
        for line in report.lines():
            print(line, flush=True)
        if report.failed:
            self.console.print(f"[red]error:[/red] {report.failed}")
        if self.config.results:
            self.config.results.parent.mkdir(parents=True, exist_ok=True)
            payload = {"summary": report.summary(), "builds": [asdict(b) for b in report.builds],
                       "latencies_s": [round(v, 3) for v in report.latencies_s]}
            self.config.results.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        return 1 if report.failed or report.visible == 0 else 0
