from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from simulators.settings import dbt_executable
from simulators.wearables.producer import default_topic
from simulators.zero_etl.stream_landing import ensure_landing

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DIR = PROJECT_DIR.parent / "shared"
SYNTHEA_DIR = SHARED_DIR / "fhir-samples" / "synthea-10"
HEALTHLAKE_DB = "patient360_healthlake_view"


@pytest.fixture(scope="session")
def synthea_dir() -> Path:
    if not SYNTHEA_DIR.is_dir():
        pytest.fail(f"the shared Synthea sample is missing: {SYNTHEA_DIR}")
    return SYNTHEA_DIR


def dbt_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "P360_DATA_DIR": str(data_dir),
        "P360_HEALTHLAKE_DB": HEALTHLAKE_DB,
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
    }


def run_dbt(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt against a private data dir, with private target/log paths so runs never share state."""
    ensure_landing(data_dir, default_topic())  # the profile attaches the stream landing file read-only
    command = [
        dbt_executable(), *args, "--project-dir", str(PROJECT_DIR),
        "--target-path", str(data_dir / "dbt-target"), "--log-path", str(data_dir / "dbt-logs"),
    ]
    return subprocess.run(command, env=dbt_env(data_dir), capture_output=True, text=True, timeout=600)
