"""Benchmark the wearable stream: produce and ingest throughput, and produce -> visible latency.

    python -m bench.wearables_stream [--events 100000] [--latency-events 500]

Uses $KAFKA_BOOTSTRAP_SERVERS when set, else starts the local tansu broker. Prints the figures and
saves them to bench/results/wearables_stream.json. Figures are for this machine (2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from patient360.dbt import run_dbt  # noqa: E402
from patient360.local_aws.attachments import ensure_attached_sources  # noqa: E402
from patient360.local_aws.streaming.broker import kafka_bootstrap  # noqa: E402
from patient360.local_aws.streaming.kafka_client import ensure_topic, produce_records  # noqa: E402
from patient360.local_aws.streaming.landing import landing_for, landing_lock, landing_path  # noqa: E402
from patient360.settings import Settings, load_settings  # noqa: E402
from simulators.wearables.events import DEFAULT_START, generate_events  # noqa: E402
from simulators.wearables.faults import with_faults  # noqa: E402

TOPIC = "wearables_stream"


def patients_for(events: int, minutes: int) -> list[str]:
    return [f"bench-patient-{n:05d}" for n in range(max(1, events // minutes))]


def count_where(path: Path, sql: str, params: list[object], data_dir: Path) -> int:
    with landing_lock(data_dir, shared=True, timeout_s=60):
        con = duckdb.connect(str(path), read_only=True)
        try:
            return int(con.execute(sql, params).fetchone()[0])
        finally:
            con.close()


def dbt(settings: Settings, *args: str) -> float:
    """The wearable models through the project's one dbt runner (patient360.dbt.run_dbt), timed."""
    started = time.monotonic()
    result = run_dbt(settings, *args, "--select", "tag:wearables", "--quiet", target="local")
    if not result.ok:
        raise RuntimeError(f"dbt {' '.join(args)} failed (exit {result.returncode}); see {result.log_path}")
    return time.monotonic() - started


def measure(events: int = 100_000, minutes: int = 600, latency_events: int = 500) -> dict[str, float | int | str]:
    """Produce `events` (1% duplicates, 1% malformed) to Kafka, land them, then the latency of a burst."""
    figures: dict[str, float | int | str] = {}
    configured = load_settings().kafka.bootstrap_servers
    with tempfile.TemporaryDirectory() as tmp, kafka_bootstrap(configured) as bootstrap:
        data_dir = Path(tmp)
        settings = load_settings(data_dir, KAFKA_BOOTSTRAP_SERVERS=bootstrap, P360_WEARABLES_TOPIC=TOPIC)
        ensure_attached_sources(settings)
        ensure_topic(bootstrap, TOPIC, partitions=3)

        patients = patients_for(events, minutes)
        records = list(
            with_faults(
                generate_events(patients, seed=1, minutes=minutes),
                seed=1,
                duplicate_rate=0.01,
                malformed_rate=0.01,
            )
        )
        produced = produce_records(records, bootstrap_servers=bootstrap, topic=TOPIC)
        figures["produce_records"] = produced.total
        figures["produce_events_per_s"] = round(produced.events_per_second)

        last_commit = [0.0]
        landing = landing_for(settings.kafka, data_dir, bootstrap)
        started = time.monotonic()
        report = landing.run(idle_polls=3, on_batch=lambda _: last_commit.__setitem__(0, time.monotonic()))
        if report.landed != produced.total:
            raise RuntimeError(f"landed {report.landed} of {produced.total} produced records")
        figures["ingest_records"] = report.landed
        figures["ingest_batches"] = report.batches
        figures["ingest_events_per_s"] = round(report.landed / (last_commit[0] - started))
        figures["dbt_build_first_s"] = round(dbt(settings, "build"), 2)
        # Latency: a follow-mode ingestor runs; a burst is produced; when is it in the events model?
        follower = subprocess.Popen(
            [sys.executable, "-m", "patient360", "--data-dir", str(data_dir), "ingest", "--follow"],
            cwd=REPO, env=settings.child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # let it start and settle
            burst_patients = patients_for(latency_events, 1)
            start = DEFAULT_START + timedelta(days=7)
            burst = list(with_faults(generate_events(burst_patients, seed=2, start=start, minutes=1), seed=2))
            produced_at = time.monotonic()
            produce_records(burst, bootstrap_servers=bootstrap, topic=TOPIC)
            landed_sql = "select count(*) from wearables_msk.wearables_stream"
            total_landed = report.landed + len(burst)
            deadline = produced_at + 120
            while time.monotonic() < deadline:
                if count_where(landing_path(data_dir), landed_sql, [], data_dir) >= total_landed:
                    break
                time.sleep(0.05)
            landed_at = time.monotonic()
            dbt_seconds = dbt(settings, "run")
            visible_sql = "select count(*) from main_staging.stg_wearables__events where event_time >= ?"
            visible = count_where(
                data_dir / "warehouse.duckdb", visible_sql, [start.replace(tzinfo=None)], data_dir
            )
            assert visible == len(burst), f"{visible} of {len(burst)} burst events visible"
            visible_at = time.monotonic()
        finally:
            follower.terminate()
            follower.wait(timeout=30)
        figures["latency_burst_events"] = len(burst)
        figures["latency_produce_to_landing_s"] = round(landed_at - produced_at, 3)
        figures["latency_incremental_dbt_run_s"] = round(dbt_seconds, 2)
        figures["latency_produce_to_visible_in_events_model_s"] = round(visible_at - produced_at, 2)
        figures["broker"] = "KAFKA_BOOTSTRAP_SERVERS" if configured else "tansu"

    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--minutes", type=int, default=600, help="device minutes per patient")
    parser.add_argument("--latency-events", type=int, default=500)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "wearables_stream.json")
    args = parser.parse_args()
    figures = measure(args.events, args.minutes, args.latency_events)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:,}" if isinstance(value, int | float) else f"{key:<{width}}  {value}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
