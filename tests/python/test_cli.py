"""The patient360 command: the one-shot pipeline and its exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from tests.python.conftest import HEALTHLAKE_DB, dbt_env


def patient360(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulators.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, env=dbt_env(data_dir), timeout=600,
    )


def test_run_simulates_imports_builds_and_shows(tmp_path: Path) -> None:
    result = patient360(tmp_path, "run", "--patients", "8", "--seed", "3", "--show", "3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "patient_360 (" in result.stdout and "fct_patient_allergies (" in result.stdout
    with duckdb.connect(str(tmp_path / "awsdatacatalog.duckdb"), read_only=True) as con:
        assert con.execute(f"select count(*) from {HEALTHLAKE_DB}.patient").fetchone()[0] == 8


def test_bad_usage_and_missing_inputs_exit_2(tmp_path: Path) -> None:
    assert patient360(tmp_path, "run", "--patients", "0").returncode == 2
    missing = patient360(tmp_path, "healthlake", "import", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert patient360(tmp_path, "build").returncode == 2
