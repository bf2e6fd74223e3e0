"""dbt build cost on the local DuckDB target at one scale: full build, dbt's fixed overhead, the incremental
build after ~1% new stream events plus a slice of front-desk changes, and one-patient lookups in
patient_360 against the reference solution's query-time join.

    python -m bench.dbt_build --patients 1000 [--wearer-share 0.01] [--wearable-days 30]

Data: FHIR through the population simulator and the HealthLake importer (cached per scale and seed under
.local/bench/cache), the front desk on a private MariaDB replicated by the zero-ETL replicator, and the
wearable stream written straight into the landing table (bench/scale_data.py; Kafka is figure 2).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scale_data import MINUTES_PER_DAY, today_midnight, write_wearable_landing  # noqa: E402
from patient360.dbt import run_dbt  # noqa: E402
from patient360.local_aws.healthlake.catalog import patient_ids  # noqa: E402
from patient360.settings import Settings, load_settings  # noqa: E402
from patient360.warehouse import connect_warehouse, relation_name  # noqa: E402

BENCH_DATA = load_settings().data_dir / "bench"
CACHE_DIR = BENCH_DATA / "cache"
# 0.25% of the patients wear a device sending an event a minute for 30 days: 100k patients -> 250 wearers,
# 10.8M stream events, which builds within the 3-minute budget on 2 cores; 1% (43.2M events) takes ~7 min
# (--wearer-share 0.01; JSON parsing and the whole-stream tests dominate, see the per-node timings).
DEFAULT_WEARER_SHARE = 0.0025

# The reference solution computes the 360 row at query time from the un-nested sources (analysis 3).
REFERENCE_LOOKUP = """
with allergies as (
    select patient_id, count(distinct allergy_id) as allergy_count
    from {allergies} where patient_id = $1 group by patient_id
),
minutes as (
    select patient_id, date_trunc('minute', event_time) as minute_at, avg(heart_rate) as avg_heart_rate
    from {events} where patient_id = $1 group by 1, 2
),
active as (
    select patient_id, sum(case when avg_heart_rate > 80 then 1 else 0 end) as active_minutes
    from minutes group by patient_id
),
appointments as (
    select count(*) as appointments_total from {appointments} where front_desk_patient_id = $1
)
select patients.patient_id, patients.given_name, allergies.allergy_count, active.active_minutes,
       appointments.appointments_total
from {patients} as patients
left join allergies on patients.patient_id = allergies.patient_id
left join active on patients.patient_id = active.patient_id
cross join appointments
where patients.patient_id = $1
"""

# The incremental build: the tables downstream of the sources that delivered (the orchestrator knows them from
# `dbt source freshness`, selector source_status:fresher+) with their tests. Views are left out: their SQL did
# not change (a deploy rebuilds them, selector state:modified), so recreating them and re-running their tests
# over the whole stream would only repeat the full build's work. The tests that re-read the whole stream
# history (uniqueness over every event, every record accounted for) are deferred to the full/nightly build;
# the benchmark runs them right after the incremental build and reports their time apart.
WHOLE_HISTORY_TESTS = [
    "assert_wearables_stream_fully_accounted",
    "test_name:unique,stg_wearables__events",
    "test_name:unique_stream_position,stg_wearables__events",
    "test_name:unique_stream_position,stg_wearables__records",
]
INCREMENTAL_SELECT = [
    "--select", "source:wearables_msk+", "source:front_desk+",
    "--exclude", "config.materialized:view", *WHOLE_HISTORY_TESTS,
]


@dataclass
class DbtRun:
    seconds: float
    nodes: list[dict[str, Any]]

    def slowest(self, count: int = 5) -> list[dict[str, Any]]:
        return sorted(self.nodes, key=lambda n: -n["seconds"])[:count]

    def total(self, kind: str) -> float:
        return round(sum(n["seconds"] for n in self.nodes if n["kind"] == kind), 2)


def dbt(settings: Settings, *args: str) -> DbtRun:
    """One dbt invocation with private target/log paths (partial parsing kept between invocations)."""
    started = time.perf_counter()
    result = run_dbt(settings, *args, "--quiet", target="local")
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"dbt {' '.join(args)} failed (exit {result.returncode}); see {result.log_path}")
    nodes = [{"node": n.unique_id.split(".", 2)[-1], "kind": n.kind, "seconds": round(n.seconds, 3)}
             for n in result.nodes]
    return DbtRun(seconds=elapsed, nodes=nodes)


def median_ms(con: Any, sql: str, params: list[str], repeats: int = 25) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        con.execute(sql, params).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def load_fhir(
    settings: Settings, patients: int, seed: int, figures: dict[str, Any], log: Callable[[str], None]
) -> None:
    """HealthLake stand-in for `patients`: from the cache, else simulate + import (and cache it)."""
    from patient360.local_aws.healthlake.bulk_import import import_bulk_export
    from simulators.fhir.population import PopulationConfig, stream_bulk_export

    cached = CACHE_DIR / f"fhir-n{patients}-seed{seed}" / "awsdatacatalog.duckdb"
    if cached.exists():
        shutil.copyfile(cached, settings.healthlake_catalog_path)
        figures["fhir_source"] = "cache"
        return
    export = settings.data_dir / "export"
    log(f"simulating + importing {patients} FHIR patients (cached afterwards)")
    started = time.perf_counter()
    summary = stream_bulk_export(PopulationConfig(patients=patients, seed=seed), export)
    simulated = time.perf_counter()
    import_bulk_export(export, settings.data_dir, settings.healthlake_db)
    imported = time.perf_counter()
    figures |= {
        "fhir_source": "simulator + importer",
        "fhir_resources": sum(summary.counts.values()),
        "fhir_simulate_s": round(simulated - started, 2),
        "fhir_import_s": round(imported - simulated, 2),
    }
    shutil.rmtree(export, ignore_errors=True)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.healthlake_catalog_path, cached)


class FrontDesk:
    """The desk on a private MariaDB under the data dir, replicated by the zero-ETL replicator."""

    def __init__(self, settings: Settings, seed: int) -> None:
        from patient360.local_aws.healthlake.catalog import front_desk_patients as patients_from_healthlake
        from patient360.local_aws.zero_etl import mariadb_server

        self.settings = settings
        self.seed = seed
        self.people = patients_from_healthlake(settings.healthlake_catalog_path, settings.healthlake_db)
        self.server = mariadb_server.start(settings.data_dir / "mariadb")
        self.simulator: Any = None

    def load(self, days: float = 1.0) -> dict[str, int]:
        from patient360.local_aws.zero_etl.mysql import connect
        from simulators.front_desk.operations import FrontDeskSimulator, apply
        from simulators.front_desk.schema import create_schema

        start = datetime.combine(datetime.now().date() - timedelta(days=2), datetime.min.time()).replace(hour=7)
        self.simulator = FrontDeskSimulator(self.people, seed=self.seed, start=start, mrn_only_share=0.1,
                                            unknown_share=0.02)
        mysql = self.server.settings
        con = connect(mysql, with_database=False)
        try:
            create_schema(con, mysql.database, drop=True)
            con.select_db(mysql.database)
            apply(self.simulator.history(), con)
            operations = apply(self.simulator.run(days=days), con)
        finally:
            con.close()
        report = self.replicate()
        return {"operations": operations, "appointments": len(self.simulator.rows), **report}

    def change(self, operations: int) -> dict[str, int]:
        """The next `operations` desk operations (bookings, reschedules, cancellations...), replicated."""
        from patient360.local_aws.zero_etl.mysql import connect
        from simulators.front_desk.operations import apply

        con = connect(self.server.settings)
        try:
            applied = apply(self.simulator.run(days=30, max_operations=operations), con)
        finally:
            con.close()
        return {"operations": applied, **self.replicate()}

    def replicate(self) -> dict[str, int]:
        from patient360.local_aws.zero_etl.replicator import Replicator

        report = Replicator(self.server.settings, self.settings.data_dir, self.settings.zetl_db).run(
            until_caught_up=True, timeout=600)
        return {"transactions": report.transactions, "row_changes": report.row_changes}

    def stop(self) -> None:
        from patient360.local_aws.zero_etl import mariadb_server

        mariadb_server.stop(self.server)


def lookup_figures(settings: Settings) -> dict[str, float]:
    with connect_warehouse(settings) as con:
        # A wearer (the first ids wear devices), so the reference join has events to aggregate.
        patient_id = patient_ids(settings.healthlake_catalog_path, settings.healthlake_db)[0]
        mart = f"select * from {relation_name(con, 'patient_360')} where patient_id = $1"
        reference = REFERENCE_LOOKUP.format(
            allergies=relation_name(con, "stg_healthlake__allergy_intolerances"),
            events=relation_name(con, "stg_wearables__events"),
            appointments=relation_name(con, "stg_front_desk__appointments"),
            patients=relation_name(con, "stg_healthlake__patients"),
        )
        mart_ms = median_ms(con, mart, [patient_id])
        reference_ms = median_ms(con, reference, [patient_id], repeats=5)
    return {
        "lookup_patient_360_ms": round(mart_ms, 2),
        "lookup_reference_join_ms": round(reference_ms, 2),
        "lookup_reference_over_mart": round(reference_ms / mart_ms, 1),
    }


def measure(
    patients: int,
    *,
    seed: int = 7,
    wearer_share: float = DEFAULT_WEARER_SHARE,
    wearable_days: int = 30,
    new_share: float = 0.01,
    work_dir: Path,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """All dbt figures at one scale, in a fresh data dir under work_dir."""
    data_dir = work_dir / f"dbt-n{patients}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = load_settings(data_dir)
    figures: dict[str, Any] = {"patients": patients, "seed": seed}
    load_fhir(settings, patients, seed, figures, log)
    wearers = max(1, round(patients * wearer_share))
    minutes = wearable_days * MINUTES_PER_DAY
    ids = patient_ids(settings.healthlake_catalog_path, settings.healthlake_db)[:wearers]
    start = today_midnight() - timedelta(days=wearable_days)
    desk = FrontDesk(settings, seed)
    try:
        log(f"front desk: history + a day of operations for {len(desk.people)} patients, replicated")
        started = time.perf_counter()
        desk_load = desk.load()
        figures["front_desk_load_s"] = round(time.perf_counter() - started, 2)
        figures["appointments"] = desk_load["appointments"]
        log(f"wearables: {wearers} wearers x {wearable_days} days per minute, written to the landing table")
        cached = CACHE_DIR / f"landing-n{patients}-seed{seed}-w{wearers}-d{wearable_days}-{start:%Y%m%d}.duckdb"
        figures |= {"wearers": wearers, "wearer_share": wearer_share, "wearable_days": wearable_days,
                    "wearable_events": wearers * minutes,
                    "wearable_write_path": "direct DuckDB write into the landing table (not Kafka)"}
        if cached.exists():
            shutil.copyfile(cached, data_dir / "stream_landing.duckdb")
            figures["wearable_source"] = "cache"
        else:
            load = write_wearable_landing(settings, ids, seed=seed, start=start, first_minute=0, minutes=minutes)
            figures |= {"wearable_write_s": round(load.seconds, 2),
                        "wearable_write_events_per_s": round(load.events_per_second)}
            if load.events >= 1_000_000:  # worth keeping: the same scale, seed and day gives the same file
                cached.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(data_dir / "stream_landing.duckdb", cached)
        log("dbt build (full)")
        full = dbt(settings, "build")
        figures["dbt_full_build_s"] = round(full.seconds, 2)
        figures["dbt_full_slowest_nodes"] = full.slowest()
        figures["dbt_full_models_s"] = full.total("model")
        figures["dbt_full_tests_s"] = full.total("test")
        log("dbt fixed overhead: an empty selection, then the incremental command with nothing new")
        figures["dbt_invocation_overhead_s"] = round(
            dbt(settings, "build", "--select", "tag:p360_bench_selects_nothing").seconds, 2)
        noop = dbt(settings, "build", *INCREMENTAL_SELECT)
        figures["dbt_incremental_noop_s"] = round(noop.seconds, 2)

        new_minutes = max(1, round(minutes * new_share))
        new_load = write_wearable_landing(settings, ids, seed=seed, start=start, first_minute=minutes,
                                          minutes=new_minutes)
        desk_ops = max(10, round(desk_load["appointments"] * new_share))
        changes = desk.change(desk_ops)
        figures |= {
            "incremental_new_events": new_load.events,
            "incremental_front_desk_operations": changes["operations"],
            "incremental_front_desk_row_changes": changes["row_changes"],
            "incremental_select": " ".join(INCREMENTAL_SELECT),
        }
        log("dbt build (incremental)")
        incremental = dbt(settings, "build", *INCREMENTAL_SELECT)
        figures["dbt_incremental_build_s"] = round(incremental.seconds, 2)
        figures["dbt_incremental_slowest_nodes"] = incremental.slowest()
        figures["dbt_incremental_models_s"] = incremental.total("model")
        figures["dbt_incremental_tests_s"] = incremental.total("test")
        figures["incremental_over_full"] = round(incremental.seconds / full.seconds, 3)
        log("deferred whole-history tests")
        deferred = dbt(settings, "test", "--select", *WHOLE_HISTORY_TESTS)
        figures["deferred_whole_history_tests_s"] = round(deferred.seconds, 2)
        figures["deferred_whole_history_tests"] = len(deferred.nodes)
    finally:
        desk.stop()
    figures |= lookup_figures(settings)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wearer-share", type=float, default=DEFAULT_WEARER_SHARE)
    parser.add_argument("--wearable-days", type=int, default=30)
    parser.add_argument("--work-dir", type=Path, default=BENCH_DATA / "work")
    args = parser.parse_args(argv)
    figures = measure(args.patients, seed=args.seed, wearer_share=args.wearer_share,
                      wearable_days=args.wearable_days, work_dir=args.work_dir)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
