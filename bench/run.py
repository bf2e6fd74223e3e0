"""One benchmark run: the six figures of issue #7 in one table, with the machine's cores and load, saved as JSON.

    python -m bench [--scale small|1k,10k,100k] [--skip fhir,kafka,zero_etl]     (make bench SCALE=...)

1. FHIR simulator + HealthLake import throughput (patients/s, resources/s) and the import's peak RSS.
2. Kafka produce (kafka-python -> local tansu broker) and ingest (landing table) throughput, events/s; the same
   on Kinesis (boto3 put_records -> kinesalite, the Kinesis landing) next to it.
3. Zero-ETL replication (MariaDB binlog -> DuckDB replica): lag p50/p95, row changes/s and tx/s of a burst.
4. `dbt build` wall time on DuckDB at each scale, and how it grows with the data.
5. Incremental build after 1% new stream events + front-desk changes, over the full build.
6. One patient from patient_360 vs the reference query-time join, in ms, and their ratio.
7. Activation sync (bench/sync_export.py): initial export rows/s, incremental sync latency after 1% changed.

Figures 4-6 use scale data: FHIR through the simulator and importer (cached per scale and seed), the front desk
on a private MariaDB replicated by the zero-ETL replicator, the wearable month written straight into the
stream landing table (bench/scale_data.py; the Kafka path is figure 2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import dbt_build  # noqa: E402

SCALES = {"small": [1000], "medium": [1000, 10_000], "large": [1000, 10_000, 100_000]}
FIGURES = ("fhir", "kafka", "kinesis", "zero_etl", "dbt", "sync")
console = Console(stderr=True)


def parse_scale(text: str) -> list[int]:
    """'small' | 'medium' | 'large' | a comma list like '1k,10k,100k' or '50,2000'."""
    if text in SCALES:
        return SCALES[text]
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        factor = 1000 if part.endswith("k") else 1
        try:
            sizes.append(int(float(part.rstrip("k")) * factor))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad scale {part!r}: use small, medium, large or e.g. 1k,10k,100k"
            ) from None
    if any(size < 10 for size in sizes):
        raise argparse.ArgumentTypeError("each scale needs at least 10 patients")
    return sorted(set(sizes))


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def growth_exponent(scales: dict[str, dict[str, Any]], key: str) -> float | None:
    """Slope of log(cost) over log(patients) between the smallest and largest scale: 1.0 = linear."""
    runs = sorted((s["patients"], s[key]) for s in scales.values() if s.get(key))
    if len(runs) < 2 or runs[0][0] == runs[-1][0]:
        return None
    (n1, t1), (n2, t2) = runs[0], runs[-1]
    return round(math.log(t2 / t1) / math.log(n2 / n1), 2)


def rows_for(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, reference/target, how) rows of the table."""
    rows = []
    if fhir := results.get("fhir"):
        rows.append((
            "1 FHIR simulator",
            f"{fhir['simulator_patients_per_s']:,.0f} patients/s, {fhir['simulator_resources_per_s']:,.0f} resources/s",
            "Synthea ~17 patients/s (1,000/min); aim >1,000/s",
            f"{fhir['patients']} patients, HealthLake layout",
        ))
        rows.append((
            "1 HealthLake import",
            f"{fhir['import_patients_per_s']:,.0f} patients/s, {fhir['import_resources_per_s']:,.0f} resources/s, "
            f"peak RSS {fhir['import_peak_rss_mib']:,.0f} MiB",
            "memory bounded: streamed by batches",
            f"{fhir['patients']:,} patients, {fhir['resources']:,} resources",
        ))
    if kafka := results.get("kafka"):
        rows.append((
            "2 Kafka produce",
            f"{kafka['produce_events_per_s']:,} events/s",
            "kafka-python ceiling ~25k msgs/s",
            f"{kafka['produce_records']:,} records (1% dup, 1% malformed), tansu broker",
        ))
        rows.append((
            "2 stream ingest",
            f"{kafka['ingest_events_per_s']:,} events/s",
            "",
            f"into the landing table, {kafka['ingest_batches']} transactions; produce->visible "
            f"{kafka['latency_produce_to_visible_in_events_model_s']} s",
        ))
    if (kds := results.get("kinesis")) and "skipped" not in kds:
        rows.append((
            "2 Kinesis produce",
            f"{kds['produce_events_per_s']:,} events/s",
            "Kinesis: 1,000 records/s per shard on AWS",
            f"{kds['produce_records']:,} records (1% dup, 1% malformed), put_records x {kds['produce_calls']}, "
            f"{kds['shards']} shards, {kds['endpoint']}",
        ))
        rows.append((
            "2 Kinesis ingest",
            f"{kds['ingest_events_per_s']:,} events/s",
            "",
            f"into the Kinesis landing, {kds['ingest_transactions']} transactions (rows + shard checkpoints)",
        ))
    if zetl := results.get("zero_etl"):
        rows.append((
            "3 zero-ETL replication",
            f"{zetl['burst_throughput_row_changes_per_s']:,} row changes/s "
            f"({zetl['burst_throughput_tx_per_s']:,} tx/s)",
            "",
            f"burst of {zetl['burst_operations']} tx / {zetl['burst_row_changes']} row changes, end to end",
        ))
        rows.append((
            "3 zero-ETL lag",
            f"p50 {zetl['lag_p50_ms']} ms, p95 {zetl['lag_p95_ms']} ms",
            "",
            f"{zetl['samples']} single-row commits -> visible to a read_only reader",
        ))
    scales = results.get("dbt", {})
    for scale in scales.values():
        n = f"{scale['patients']:,} pts"
        rows.append((
            f"4 dbt build full, {n}",
            f"{scale['dbt_full_build_s']} s",
            "100k pts: < 180 s on 2 cores",
            f"{scale['wearable_events']:,} stream events ({scale['wearers']} wearers x {scale['wearable_days']} d), "
            f"{scale['appointments']:,} appointments; dbt fixed overhead {scale['dbt_invocation_overhead_s']} s",
        ))
    if (exponent := growth_exponent(scales, "dbt_full_build_s")) is not None:
        rows.append(("4 full build growth", f"time ~ patients^{exponent}", "near linear (1.0)",
                     "log-log slope between the smallest and largest scale"))
    for scale in scales.values():
        rows.append((
            f"5 incremental / full, {scale['patients']:,} pts",
            f"{scale['incremental_over_full']:.1%} ({scale['dbt_incremental_build_s']} s)",
            "< 10%",
            f"+{scale['incremental_new_events']:,} events, {scale['incremental_front_desk_operations']} desk ops "
            f"({scale['incremental_front_desk_row_changes']} row changes); no-op {scale['dbt_incremental_noop_s']} s; "
            f"deferred whole-history tests {scale.get('deferred_whole_history_tests_s')} s",
        ))
    for scale in scales.values():
        rows.append((
            f"6 lookup, {scale['patients']:,} pts",
            f"{scale['lookup_patient_360_ms']} ms vs {scale['lookup_reference_join_ms']} ms "
            f"({scale['lookup_reference_over_mart']}x)",
            "",
            "patient_360 row vs the reference query-time join (analysis 3), medians, same run",
        ))
    for scale in results.get("sync", {}).values():
        rows.append((
            f"7 sync export, {scale['patients']:,} pts",
            f"initial {scale['initial_rows_per_s']:,} rows/s; incremental {scale['incremental_sync_s']} s",
            "",
            f"initial {scale['initial_rows']:,} rows -> Parquet; then {scale['changed_patients']:,} patients (1%) "
            f"changed by write-back (import + build {scale['write_back_import_and_build_s']} s), "
            f"incremental batch {scale['incremental_rows']:,} rows",
        ))
    return rows


def print_table(results: dict[str, Any]) -> None:
    info = results["machine"]
    table = Table(
        title=f"patient360 benchmarks: {info['cpu_count']} cores ({info['usable_cores']} usable), load average "
        f"{info['load_average'][0]} at start / {results['machine_after']['load_average'][0]} at end",
        title_justify="left",
    )
    for column in ("figure", "measured", "reference / target", "how"):
        table.add_column(column, overflow="fold")
    for row in rows_for(results):
        table.add_row(*row)
    Console(width=max(Console().width, 160)).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=parse_scale, default=SCALES["small"],
                        help="dbt scales in patients: small (1k), medium (1k,10k), large (1k,10k,100k) or a list")
    parser.add_argument("--skip", default="", help=f"comma list of figures to skip: {', '.join(FIGURES)}")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wearer-share", type=float, default=dbt_build.DEFAULT_WEARER_SHARE,
                        help="share of patients with a wearable (default 0.25%%: 100k patients -> 10.8M events)")
    parser.add_argument("--wearable-days", type=int, default=30, help="days of per-minute events per wearer")
    parser.add_argument("--fhir-patients", type=int, default=2000, help="patients for figure 1")
    parser.add_argument("--kafka-events", type=int, default=100_000, help="events for figure 2")
    parser.add_argument("--kinesis-events", type=int, default=None,
                        help="events for figure 2 on Kinesis (default: the Kafka events, at most 20,000)")
    parser.add_argument("--zero-etl-samples", type=int, default=40, help="single commits timed for figure 3")
    parser.add_argument("--zero-etl-burst-days", type=float, default=3.0, help="desk days in the burst of figure 3")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/bench_<timestamp>.json)")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if unknown := skip - set(FIGURES):
        parser.error(f"unknown figure(s) to skip: {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                               "scales": args.scale, "seed": args.seed}
    if "fhir" not in skip:
        from bench import fhir_throughput

        console.rule(f"1. FHIR simulator + import, {args.fhir_patients} patients")
        results["fhir"] = fhir_throughput.measure(args.fhir_patients, args.seed)
    if "kafka" not in skip:
        from bench import wearables_stream

        console.rule(f"2. Kafka produce + ingest, {args.kafka_events} events")
        results["kafka"] = wearables_stream.measure(args.kafka_events)
    if "kinesis" not in skip:
        from bench import kinesis_stream

        events = args.kinesis_events or min(args.kafka_events, 20_000)
        console.rule(f"2. Kinesis produce + ingest, {events} events")
        results["kinesis"] = kinesis_stream.measure(events)
    if "zero_etl" not in skip:
        from bench import zero_etl_lag

        console.rule("3. zero-ETL replication")
        results["zero_etl"] = zero_etl_lag.measure(args.zero_etl_samples, args.zero_etl_burst_days)
    if "dbt" not in skip:
        results["dbt"] = {}
        for patients in args.scale:
            console.rule(f"4-6. dbt at {patients:,} patients")
            results["dbt"][str(patients)] = dbt_build.measure(
                patients, seed=args.seed, wearer_share=args.wearer_share, wearable_days=args.wearable_days,
                work_dir=dbt_build.BENCH_DATA / "work", log=lambda m: console.print(f"  {m}"),
            )
        results["dbt_full_build_growth_exponent"] = growth_exponent(results["dbt"], "dbt_full_build_s")
        if "sync" not in skip:  # on each scale's built warehouse
            from bench import sync_export

            results["sync"] = {}
            for patients in args.scale:
                console.rule(f"7. sync export at {patients:,} patients")
                work = dbt_build.BENCH_DATA / "work" / f"dbt-n{patients}"
                results["sync"][str(patients)] = sync_export.measure(work)
    results["machine_after"] = machine()
    results["seconds"] = round(time.perf_counter() - started, 1)
    print_table(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or REPO / "bench" / "results" / f"bench_{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"saved {out} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
