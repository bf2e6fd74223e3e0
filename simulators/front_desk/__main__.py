"""Run the front desk: schema, history and a stream of operations against MySQL/MariaDB, then replicate.

  python -m simulators.front_desk --patients 100 --seed 42 --days 1 [--local-server] [--replicate]

Patients come from the HealthLake stand-in when it holds some (--from-healthlake, the default when
$P360_DATA_DIR/awsdatacatalog.duckdb exists), else from a seeded synthetic list. The database is the one
FRONT_DESK_MYSQL_* points at (Aurora MySQL or any MySQL), or with --local-server a private MariaDB under
$P360_DATA_DIR/mariadb started (or reused) for the purpose.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

from simulators.front_desk.connection import MySqlSettings, connect
from simulators.front_desk.operations import FrontDeskSimulator, apply
from simulators.front_desk.patients import patients_from_healthlake, synthetic_patients
from simulators.front_desk.schema import create_schema


def run(
    data_dir: Path, *, patients: int = 100, seed: int = 42, days: float = 1.0, local_server: bool = True,
    replicate: bool = True, from_healthlake: bool | None = None, start: datetime | None = None,
    show_progress: bool = False, keep_server: bool = False,
) -> str:
    """Simulate the desk (and replicate); returns a one-line summary. Exceptions name what went wrong."""
    healthlake_db = os.environ.get("P360_HEALTHLAKE_DB", "patient360_healthlake_view")
    catalog = data_dir / "awsdatacatalog.duckdb"
    if from_healthlake is None:
        from_healthlake = catalog.exists()
    people = patients_from_healthlake(catalog, healthlake_db) if from_healthlake else synthetic_patients(patients, seed)
    started = None
    if local_server:
        from simulators.zero_etl import mariadb_server

        server = mariadb_server.running(data_dir)
        if server is None:
            server = started = mariadb_server.start(data_dir)
        settings = server.settings
    else:
        settings = MySqlSettings.from_env()
    try:
        return _simulate(data_dir, people, settings, seed=seed, days=days, replicate=replicate, start=start,
                         show_progress=show_progress)
    finally:
        if started is not None and not keep_server:
            mariadb_server.stop(started)  # a server this call started does not outlive it unless asked


def _simulate(
    data_dir: Path, people: list, settings: MySqlSettings, *, seed: int, days: float, replicate: bool,
    start: datetime | None, show_progress: bool,
) -> str:
    # Default start: as many days ago as are simulated, at opening time, so the stream ends about "today".
    start = start or datetime.combine(datetime.now().date() - timedelta(days=max(1, int(days))), time(7, 30))
    simulator = FrontDeskSimulator(people, seed=seed, start=start, mrn_only_share=0.1, unknown_share=0.02)
    con = connect(settings, with_database=False)
    try:
        create_schema(con, settings.database, drop=True)
        con.select_db(settings.database)
        apply(simulator.history(), con)
        operations = apply(simulator.run(days=days), con, show_progress=show_progress)
    finally:
        con.close()
    summary = (f"front desk {settings.describe()}: {len(people)} patients, {operations} operations over {days} "
               f"simulated day(s), {len(simulator.rows)} appointments")
    if replicate:
        from simulators.zero_etl.replicator import Replicator

        report = Replicator(settings, data_dir, os.environ.get("P360_ZETL_DB", "front_desk_zetl")).run(
            until_caught_up=True, timeout=120,
        )
        summary += f"; zero-ETL replica: {report.transactions} transactions, {report.resyncs} snapshot(s)"
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("P360_DATA_DIR", ".local")))
    parser.add_argument("--patients", type=int, default=100, help="synthetic patients (without HealthLake)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--local-server", action="store_true", help="start/reuse a private MariaDB")
    parser.add_argument("--replicate", action="store_true", help="run the zero-ETL replicator until caught up")
    parser.add_argument("--synthetic", action="store_true", help="ignore the HealthLake stand-in")
    parser.add_argument("--keep-server", action="store_true", help="leave the private MariaDB running")
    args = parser.parse_args(argv)
    try:
        summary = run(
            args.data_dir.resolve(), patients=args.patients, seed=args.seed, days=args.days,
            local_server=args.local_server, replicate=args.replicate,
            from_healthlake=False if args.synthetic else None, show_progress=sys.stderr.isatty(),
            keep_server=args.keep_server,
        )
    except (ConnectionError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
