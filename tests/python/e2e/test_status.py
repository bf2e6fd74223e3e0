"""`patient360 status`: counts, import jobs and rejections, freshness; exit 1 when a source is past error_after."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.python.support import HEALTHLAKE_DB, run_cli


def status(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data_dir, "status", "--json", *args, timeout=300)


@pytest.fixture(scope="module")
def imported(synthea_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("status")
    bad = tmp_path_factory.mktemp("bad-export") / "Patient.000.ndjson"
    bad.write_text('{"resourceType": "Patient"}\nnot json\n', encoding="utf-8")
    for source in (synthea_dir, bad):
        completed = run_cli(data_dir, "healthlake", "import", str(source), timeout=300)
        assert completed.returncode == 0, completed.stderr[-2000:]
    return data_dir


def ndjson_count(folder: Path, resource_type: str) -> int:
    files = folder.glob(f"{resource_type}.*.ndjson")
    return sum(1 for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip())


def test_counts_jobs_and_rejections(imported: Path, synthea_dir: Path) -> None:
    completed = status(imported, "--no-freshness")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    counts = {t["table"]: t["rows"] for t in report["source_tables"] if t["schema"] == HEALTHLAKE_DB}
    for resource_type in ("Patient", "Condition", "Encounter", "Immunization", "AllergyIntolerance", "Procedure"):
        assert counts[resource_type.lower()] == ndjson_count(synthea_dir, resource_type), resource_type
    assert counts["observation"] == 0
    assert [j["resources_rejected"] for j in report["import_jobs"]] == [0, 2]
    assert sum(report["rejections_by_reason"].values()) == 2
    assert report["models"] == [] and any("no warehouse" in p for p in report["problems"])
    assert report["freshness"] == []


def test_freshness_passes_for_imported_sources_and_fails_for_the_empty_one(imported: Path) -> None:
    completed = status(imported)
    report = json.loads(completed.stdout)
    by_source = {f["source"]: f for f in report["freshness"]}
    assert by_source["healthlake.patient"]["status"] == "pass"
    assert 0 <= by_source["healthlake.patient"]["age_seconds"] < 600
    assert by_source["healthlake.observation"]["status"] == "error"
    assert by_source["healthlake.observation"]["max_loaded_at"] is None
    assert completed.returncode == 1, "a source past error_after is a failing status"
