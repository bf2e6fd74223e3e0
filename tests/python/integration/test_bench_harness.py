"""`python -m bench` at a tiny scale: one run, the six figures in its JSON, each with plausible values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from patient360.local_aws.zero_etl import mariadb_server
from tests.python.support import PROJECT_DIR, child_env

PATIENTS, WEARABLE_DAYS = 50, 2


@pytest.mark.slow
def test_bench_harness_reports_all_six_figures(tmp_path: Path) -> None:
    if not mariadb_server.is_installed():
        pytest.fail("MariaDB is not installed: run `make services` (apt-get install -y mariadb-server)")
    out = tmp_path / "bench.json"
    env = child_env(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", str(PATIENTS), "--wearable-days", str(WEARABLE_DAYS),
         "--fhir-patients", "100", "--kafka-events", "3000", "--zero-etl-samples", "5",
         "--zero-etl-burst-days", "0.3", "--out", str(out)],
        # ~1 min on an idle machine; the timeout is for a loaded one
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["machine"]["cpu_count"] == os.cpu_count()
    assert len(figures["machine"]["load_average"]) == 3

    fhir = figures["fhir"]  # 1
    assert fhir["patients"] == 100 and fhir["resources"] > fhir["patients"]
    assert fhir["simulator_patients_per_s"] > 0 and fhir["import_resources_per_s"] > 0

    kafka = figures["kafka"]  # 2
    assert kafka["produce_records"] >= 3000 and kafka["ingest_records"] == kafka["produce_records"]
    assert kafka["produce_events_per_s"] > 0 and kafka["ingest_events_per_s"] > 0

    zetl = figures["zero_etl"]  # 3
    assert 0 < zetl["lag_p50_ms"] <= zetl["lag_p95_ms"]
    assert zetl["burst_row_changes"] >= zetl["burst_operations"] > 0
    assert zetl["burst_throughput_row_changes_per_s"] > 0 and zetl["replica_equals_source"]

    scale = figures["dbt"][str(PATIENTS)]  # 4, 5, 6
    wearers = max(1, round(PATIENTS * scale["wearer_share"]))
    assert scale["wearers"] == wearers
    minutes = WEARABLE_DAYS * 24 * 60
    assert scale["wearable_events"] == wearers * minutes
    assert scale["incremental_new_events"] == wearers * round(minutes * 0.01)
    assert scale["incremental_front_desk_row_changes"] > 0
    assert scale["dbt_full_build_s"] > scale["dbt_invocation_overhead_s"] > 0
    assert 0 < scale["incremental_over_full"] < 2
    assert scale["deferred_whole_history_tests"] >= 4 and scale["deferred_whole_history_tests_s"] > 0
    assert scale["dbt_full_slowest_nodes"] and all(n["seconds"] >= 0 for n in scale["dbt_full_slowest_nodes"])
    assert scale["lookup_patient_360_ms"] > 0 and scale["lookup_reference_join_ms"] > 0
    assert scale["lookup_reference_over_mart"] == pytest.approx(
        scale["lookup_reference_join_ms"] / scale["lookup_patient_360_ms"], rel=0.1
    )
    for figure in ("1 FHIR simulator", "2 Kafka produce", "3 zero-ETL replication", "4 dbt build full",
                   "5 incremental / full", "6 lookup"):
        assert figure in result.stdout, f"{figure!r} missing from the printed table"
