"""Zero-ETL replication lag: source commit -> row visible in the replica, measured end to end.

A private MariaDB (or the server FRONT_DESK_MYSQL_* points at, with --use-env) takes single bookings, one
transaction each; the replicator runs as its own process (--follow), as in production; the benchmark polls
the replica read_only, as dbt would, until the booking is there. Then a burst of front-desk operations
measures catch-up throughput. Figures are printed and saved to bench/results/zero_etl_lag.json.

Usage: python -m bench.zero_etl_lag [--samples 40] [--burst-days 3] [--use-env]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from patient360.local_aws.zero_etl import mariadb_server  # noqa: E402
from patient360.local_aws.zero_etl.mysql import connect  # noqa: E402
from patient360.local_aws.zero_etl.replicator import METADATA_SCHEMA, Replicator  # noqa: E402
from patient360.local_aws.zero_etl.verify import compare  # noqa: E402
from patient360.settings import MySqlSettings, load_settings  # noqa: E402
from simulators.front_desk.operations import FrontDeskSimulator, apply  # noqa: E402
from simulators.front_desk.patients import synthetic_patients  # noqa: E402
from simulators.front_desk.schema import COLUMNS, TABLE, create_schema  # noqa: E402

ZETL_DB = "zetl_bench"


def read_replica(path: Path, sql: str, params: list[object], timeout: float = 30.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                return con.execute(sql, params).fetchall()
        except (duckdb.IOException, duckdb.CatalogException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def applied_row_changes(replica: Path) -> int:
    """Row changes the replicator has applied so far (its own per-batch record)."""
    return int(read_replica(replica, f"select coalesce(sum(row_changes), 0) from {METADATA_SCHEMA}.replication_lag",
                            [])[0][0])


def measure(samples: int = 40, burst_days: float = 3.0, *, use_env: bool = False) -> dict[str, object]:
    """Lag of single transactions (p50/p95) and the catch-up throughput of a burst, in tx/s and row changes/s."""
    work = Path(tempfile.mkdtemp(prefix="p360-bench-zetl-"))
    server = None
    if use_env:
        settings = MySqlSettings.from_env()
    else:
        server = mariadb_server.start(work)
        settings = server.settings.with_database("front_desk_bench")
    replicator_process = None
    try:
        con = connect(settings, with_database=False)
        create_schema(con, settings.database, drop=True)
        con.select_db(settings.database)
        simulator = FrontDeskSimulator(synthetic_patients(200, seed=1), seed=1, start=datetime(2026, 3, 2, 7, 30))
        apply(simulator.history(), con)
        replica = work / f"{ZETL_DB}.duckdb"
        env = load_settings(work, P360_ZETL_DB=ZETL_DB, **settings.as_env()).child_env()
        replicator_process = subprocess.Popen(
            [sys.executable, "-m", "patient360", "--data-dir", str(work), "replicate", "--timeout", "600"],
            env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        snapshot_started = time.monotonic()
        while not replica.exists() or not read_replica(
            replica, f"select 1 from {METADATA_SCHEMA}.integration_table_state where table_state = 'Synced'", []
        ):
            if time.monotonic() - snapshot_started > 60:
                raise TimeoutError("the replicator did not finish its initial snapshot in 60 s")
            time.sleep(0.05)
        snapshot_seconds = time.monotonic() - snapshot_started

        # 1. single-transaction lag, commit -> visible to a read_only reader
        lags = []
        patient = simulator.desk_patients[0]
        with con.cursor() as cur:
            for i in range(samples):
                when = datetime(2027, 1, 1, 8, 0).replace(minute=i % 60, hour=8 + i // 60)
                row = {**patient, "appointment_datetime": when, "status": "booked", "provider_id": "bench",
                       "department": "bench", "booked_at": datetime.now(), "updated_at": datetime.now()}
                marks = ", ".join(["%s"] * len(COLUMNS))
                cur.execute(f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({marks})", [row[c] for c in COLUMNS])
                con.commit()
                committed = time.perf_counter()
                deadline = committed + 30
                query = (f'select count(*) from "{settings.database}".{TABLE} '
                         "where patient_id = ? and appointment_datetime = ?")
                while read_replica(replica, query, [patient["patient_id"], when])[0][0] == 0:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"sample {i} not visible in the replica after 30 s")
                    time.sleep(0.002)
                lags.append(time.perf_counter() - committed)
                time.sleep(0.05)

        # 2. burst: a few simulated days of operations as fast as the source takes them, then catch-up
        rows_before_burst = applied_row_changes(replica)
        burst_started = time.perf_counter()
        operations = apply(simulator.run(days=burst_days), con)
        source_done = time.perf_counter()
        target = Replicator(settings, work, ZETL_DB).current_source_position(con)
        while True:
            stored = read_replica(
                replica, f"select log_file, log_pos from {METADATA_SCHEMA}.integration_position", []
            )
            if stored and (stored[0][0], stored[0][1]) >= (target.log_file, target.log_pos):
                break
            if time.perf_counter() - source_done > 120:
                raise TimeoutError("the replica did not catch up with the burst within 120 s")
            time.sleep(0.01)
        caught_up = time.perf_counter()
        burst_row_changes = applied_row_changes(replica) - rows_before_burst
        con.close()
        replicator_process.terminate()
        replicator_process.wait(timeout=30)
        comparison = compare(settings, replica, TABLE, COLUMNS)
        recorded = read_replica(
            replica, f"select count(*), quantile_cont(lag_seconds, 0.5), max(lag_seconds) "
            f"from {METADATA_SCHEMA}.replication_lag", [],
        )[0]
    finally:
        if replicator_process and replicator_process.poll() is None:
            replicator_process.kill()
        if server:
            mariadb_server.stop(server)

    results = {
        "samples": len(lags),
        "lag_p50_ms": round(statistics.median(lags) * 1000, 1),
        "lag_p95_ms": round(percentile(lags, 0.95) * 1000, 1),
        "lag_max_ms": round(max(lags) * 1000, 1),
        "initial_snapshot_s": round(snapshot_seconds, 2),
        "burst_operations": operations,
        "burst_source_s": round(source_done - burst_started, 2),
        "burst_catch_up_after_source_s": round(caught_up - source_done, 2),
        "burst_throughput_tx_per_s": round(operations / (caught_up - burst_started), 1),
        "burst_row_changes": burst_row_changes,
        "burst_throughput_row_changes_per_s": round(burst_row_changes / (caught_up - burst_started), 1),
        "replicator_recorded_batches": recorded[0],
        "replicator_recorded_lag_p50_s": round(recorded[1] or 0, 3),
        "replicator_recorded_lag_max_s": round(recorded[2] or 0, 3),
        "replica_equals_source": comparison.equal,
    }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--burst-days", type=float, default=3.0)
    parser.add_argument("--use-env", action="store_true", help="use FRONT_DESK_MYSQL_* instead of a private server")
    args = parser.parse_args()
    results = measure(args.samples, args.burst_days, use_env=args.use_env)
    print("zero-ETL replication (MariaDB binlog -> DuckDB replica), commit -> visible to a read_only reader:")
    print(f"  lag over {results['samples']} single-row transactions: p50 {results['lag_p50_ms']} ms, "
          f"p95 {results['lag_p95_ms']} ms, max {results['lag_max_ms']} ms")
    print(f"  initial snapshot + start: {results['initial_snapshot_s']} s")
    print(f"  burst of {results['burst_operations']} front-desk transactions: source took "
          f"{results['burst_source_s']} s, replica caught up {results['burst_catch_up_after_source_s']} s later "
          f"({results['burst_throughput_tx_per_s']} tx/s, {results['burst_throughput_row_changes_per_s']} "
          "row changes/s end to end)")
    print(f"  replicator's own lag record (binlog second resolution): {results['replicator_recorded_batches']} "
          "batches, "
          f"p50 {results['replicator_recorded_lag_p50_s']} s, max {results['replicator_recorded_lag_max_s']} s")
    print(f"  replica equals source after the run: {results['replica_equals_source']}")
    out = PROJECT_DIR / "bench" / "results" / "zero_etl_lag.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"  saved {out.relative_to(PROJECT_DIR)}")
    return 0 if results["replica_equals_source"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
