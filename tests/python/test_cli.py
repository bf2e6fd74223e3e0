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


def test_help_lists_the_verbs_and_exit_codes(tmp_path: Path) -> None:
    result = patient360(tmp_path, "--help")
    assert result.returncode == 0
    for verb in ("simulate", "ingest", "replicate", "build", "run", "status", "continuous"):
        assert verb in result.stdout.split("{", 1)[1].split("}", 1)[0].split(","), verb
    assert "exit codes:" in result.stdout
    desk = patient360(tmp_path, "simulate", "front-desk", "--help")
    assert desk.returncode == 0 and "--days" in desk.stdout and "--seed" in desk.stdout
    assert "--rate" in patient360(tmp_path, "simulate", "wearables", "--help").stdout


def test_unconfigured_or_unreachable_sources_exit_2(tmp_path: Path) -> None:
    env_free = {"KAFKA_BOOTSTRAP_SERVERS": ""}
    ingest = subprocess.run(
        [sys.executable, "-m", "simulators.cli", "--data-dir", str(tmp_path), "ingest"],
        capture_output=True, text=True, env={**dbt_env(tmp_path), **env_free}, timeout=120,
    )
    assert ingest.returncode == 2 and "KAFKA_BOOTSTRAP_SERVERS" in ingest.stderr
    unreachable = {"FRONT_DESK_MYSQL_HOST": "127.0.0.1", "FRONT_DESK_MYSQL_PORT": "1"}
    replicate = subprocess.run(
        [sys.executable, "-m", "simulators.cli", "--data-dir", str(tmp_path), "replicate", "--once"],
        capture_output=True, text=True, env={**dbt_env(tmp_path), **unreachable}, timeout=120,
    )
    assert replicate.returncode == 2 and "cannot connect" in replicate.stderr
    assert patient360(tmp_path, "replicate", "--local-server").returncode == 2  # no private server running
    assert patient360(tmp_path, "continuous", "--interval", "0").returncode == 2
    assert patient360(tmp_path, "continuous").returncode == 2  # no HealthLake stand-in yet
