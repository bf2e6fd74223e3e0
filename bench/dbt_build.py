"""dbt build cost on the local DuckDB target: full build, incremental build after ~1% new stream events,
and one-patient lookups in patient_360 against the reference solution's query-time join.

    python bench/dbt_build.py --patients 1000 [--wearer-share 0.1] [--wearable-days 2] [--front-desk]

Prints the figures with the machine's core count and writes them to bench/results/dbt_build_<N>.json.
--front-desk also simulates a day of front-desk work on a private MariaDB (make services) and replicates it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulators.cli import healthlake_patient_ids, run_dbt, run_wearables_step  # noqa: E402
from simulators.fhir.bulk_import import import_bulk_export  # noqa: E402
from simulators.fhir.population import PopulationConfig, stream_bulk_export  # noqa: E402
from simulators.settings import load_settings  # noqa: E402
from simulators.warehouse import connect_warehouse, relation_name  # noqa: E402
from simulators.wearables.events import generate_events  # noqa: E402
from simulators.wearables.faults import event_record  # noqa: E402
from simulators.wearables.producer import default_topic, produce_records  # noqa: E402
from simulators.zero_etl.kafka_broker import kafka_bootstrap  # noqa: E402
from simulators.zero_etl.stream_landing import refresh  # noqa: E402

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


def timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    if result not in (0, None):
        raise SystemExit(f"step failed with exit {result}")
    return elapsed


def median_ms(con, sql: str, params: list[str], repeats: int = 25) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        con.execute(sql, params).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def add_stream_events(data_dir: Path, bootstrap: str, patient_ids: list[str], seed: int, minutes: int) -> int:
    """New minutes after the first load (fresh event ids), as the stream brings between two builds."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = generate_events(patient_ids, seed=seed + 1, start=start, minutes=minutes)
    produced = produce_records((event_record(e) for e in events), bootstrap_servers=bootstrap, topic=default_topic())
    refresh(bootstrap_servers=bootstrap, topic=default_topic(), data_dir=data_dir)
    return produced.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wearer-share", type=float, default=0.1)
    parser.add_argument("--wearable-days", type=int, default=2)
    parser.add_argument("--front-desk", action="store_true", help="also simulate + replicate a front-desk day")
    args = parser.parse_args()
    figures: dict[str, float | int | str] = {"cores": os.cpu_count() or 0, "patients": args.patients}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = load_settings(data_dir)
        stream_bulk_export(PopulationConfig(patients=args.patients, seed=args.seed), data_dir / "export")
        figures["import_s"] = round(timed(lambda: import_bulk_export(
            data_dir / "export", data_dir, settings.healthlake_db) and None), 2)
        if args.front_desk:
            from simulators.front_desk.__main__ import run as run_front_desk

            figures["front_desk_s"] = round(timed(lambda: run_front_desk(data_dir, seed=args.seed) and None), 2)
        wearers = max(1, int(args.patients * args.wearer_share))
        figures["wearers"] = wearers
        figures["wearable_events"] = wearers * args.wearable_days * 24 * 60
        # One broker for both loads: the local one keeps its data in memory only.
        with kafka_bootstrap(log_path=data_dir / "tansu.log") as bootstrap:
            os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
            figures["wearables_load_s"] = round(
                timed(lambda: run_wearables_step(settings, args.seed, wearers, args.wearable_days)), 2
            )
            figures["dbt_build_full_s"] = round(timed(lambda: run_dbt(settings, ["build", "--quiet"])), 2)
            new_minutes = max(1, int(args.wearable_days * 24 * 60 * 0.01))
            figures["incremental_new_events"] = add_stream_events(
                data_dir, bootstrap, healthlake_patient_ids(settings)[:wearers], args.seed, new_minutes
            )
        figures["dbt_build_incremental_s"] = round(timed(lambda: run_dbt(settings, ["build", "--quiet"])), 2)
        figures["incremental_over_full"] = round(figures["dbt_build_incremental_s"] / figures["dbt_build_full_s"], 3)

        with connect_warehouse(settings) as con:
            patient_id = healthlake_patient_ids(settings)[0]
            mart = f"select * from {relation_name(con, 'patient_360')} where patient_id = $1"
            reference = REFERENCE_LOOKUP.format(
                allergies=relation_name(con, "stg_healthlake__allergy_intolerances"),
                events=relation_name(con, "stg_wearables__events"),
                appointments=relation_name(con, "stg_front_desk__appointments"),
                patients=relation_name(con, "stg_healthlake__patients"),
            )
            figures["lookup_patient_360_ms"] = round(median_ms(con, mart, [patient_id]), 2)
            figures["lookup_reference_join_ms"] = round(median_ms(con, reference, [patient_id]), 2)
            figures["lookup_reference_over_mart"] = round(
                figures["lookup_reference_join_ms"] / figures["lookup_patient_360_ms"], 2
            )
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    out = REPO / "bench" / "results" / f"dbt_build_{args.patients}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"saved {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
