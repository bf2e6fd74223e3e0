"""FHIR path throughput: the population simulator's bulk export, then the HealthLake bulk import.

    python -m bench.fhir_throughput --patients 2000 [--legacy]

Prints simulator patients/s and resources/s, import resources/s and patients/s, the import's peak memory
(peak RSS of a fresh process that runs only the import: it streams by batches, so it stays bounded as the
export grows) and the machine's cores,
and writes the figures as JSON to bench/results/fhir_throughput.json. ``--legacy`` also imports the same
export with the importer as it was before the fast path (bench/legacy_bulk_import.py), in the same run,
and checks that both produce identical tables.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from patient360.local_aws.healthlake import layout
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from simulators.fhir.population import PopulationConfig, stream_bulk_export

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "fhir_throughput.json"
DATABASE = "patient360_healthlake_view"


def _import_in_child(export: Path, data_dir: Path, results: Any) -> None:
    started = time.perf_counter()
    report = import_bulk_export(export, data_dir, DATABASE)
    seconds = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux: this process's peak resident memory, the import's own footprint.
    results.put((seconds, report.loaded_total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measured_import(export: Path, data_dir: Path) -> tuple[float, int, float]:
    """(seconds, resources loaded, peak RSS in MiB) of an import run alone in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_import_in_child, args=(export, data_dir, results))
    child.start()
    seconds, loaded, peak_mib = results.get()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"the import process failed (exit {child.exitcode})")
    return seconds, loaded, peak_mib


def timed_import(importer: Any, export: Path, data_dir: Path) -> tuple[float, int]:
    started = time.perf_counter()
    report = importer(export, data_dir, DATABASE)
    return time.perf_counter() - started, report.loaded_total


def tables_identical(left: Path, right: Path) -> bool:
    """Same column types, same rows in the same order, for every declared resource table."""
    with duckdb.connect() as con:
        con.execute(f"attach '{left / 'awsdatacatalog.duckdb'}' as a (read_only)")
        con.execute(f"attach '{right / 'awsdatacatalog.duckdb'}' as b (read_only)")
        for resource_type in layout.BASE_SCHEMAS:
            table = layout.table_name(resource_type)
            types = ("select column_name, data_type from information_schema.columns where table_catalog = ? "
                     "and table_schema = ? and table_name = ? order by ordinal_position")
            if con.execute(types, ["a", DATABASE, table]).fetchall() != \
                    con.execute(types, ["b", DATABASE, table]).fetchall():
                return False
            # meta.lastUpdated is the import's time (the legacy importer did not set it): everything else compared.
            rows = f"select * exclude (meta), meta.versionid, meta.source, meta.profile from {{}}.{DATABASE}.{table}"
            if con.execute(rows.format("a")).fetchall() != con.execute(rows.format("b")).fetchall():
                return False
    return True


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def measure(patients: int = 2000, seed: int = 42, *, legacy: bool = False) -> dict[str, Any]:
    """Simulate `patients` into a bulk export, import it; the figures (legacy: also the old importer)."""
    with tempfile.TemporaryDirectory(prefix="fhir-bench-") as work:
        export = Path(work) / "export"
        started = time.perf_counter()
        summary = stream_bulk_export(PopulationConfig(patients=patients, seed=seed), export)
        simulate_s = time.perf_counter() - started
        resources = sum(summary.counts.values())
        import_s, loaded, peak_mib = measured_import(export, Path(work) / "fast")
        figures: dict[str, Any] = {
            "patients": patients,
            "seed": seed,
            "resources": resources,
            "cpu_count": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "simulator_seconds": round(simulate_s, 3),
            "simulator_patients_per_s": rate(patients, simulate_s),
            "simulator_resources_per_s": rate(resources, simulate_s),
            "import_seconds": round(import_s, 3),
            "import_resources_per_s": rate(loaded, import_s),
            "import_patients_per_s": rate(patients, import_s),
            "import_peak_rss_mib": round(peak_mib, 1),
        }
        if legacy:
            sys.path.insert(0, str(BENCH_DIR))
            from legacy_bulk_import import import_bulk_export as legacy_import

            legacy_s, _ = timed_import(legacy_import, export, Path(work) / "legacy")
            figures |= {
                "legacy_import_seconds": round(legacy_s, 3),
                "legacy_import_resources_per_s": rate(loaded, legacy_s),
                "legacy_import_patients_per_s": rate(patients, legacy_s),
                "import_speedup": round(legacy_s / import_s, 2),
                "identical_tables": tables_identical(Path(work) / "fast", Path(work) / "legacy"),
            }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--legacy", action="store_true", help="also time the pre-fast-path importer (same run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    args = parser.parse_args(argv)
    figures = measure(args.patients, args.seed, legacy=args.legacy)
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0 if figures.get("identical_tables", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
