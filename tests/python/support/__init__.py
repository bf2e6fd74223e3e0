"""What the tests share (nothing is imported from a test module): the project's settings for a private data dir,
dbt through the project's own runner, the CLI as a child process, and the data from outside the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from patient360.dbt import run_dbt as project_dbt
from patient360.dbt import target_path
from patient360.local_aws.streaming.landing import RefreshReport, refresh
from patient360.local_aws.zero_etl.mysql import connect
from patient360.settings import PROJECT_DIR, KafkaSettings, MySqlSettings, Settings, load_settings, load_shared_data
from simulators.front_desk.schema import create_schema

HEALTHLAKE_DB = "patient360_healthlake_view"
SHARED_DATA_HINT = (
    "clone next to this repository the folder `shared/` with `fhir-samples/` and `sql-on-fhir-v2/`, or point "
    "P360_SYNTHEA_DIR / P360_SOF_SUITE_DIR at them"
)

__all__ = ["PROJECT_DIR", "HEALTHLAKE_DB", "settings_for", "child_env", "dbt_target", "run_dbt", "run_cli", "land",
           "fresh_source", "synthea_sample"]


def settings_for(data_dir: Path, **overrides: str) -> Settings:
    """The project's settings for a private data dir (local target, the default HealthLake database)."""
    return load_settings(data_dir, **{"P360_TARGET": "local", "P360_HEALTHLAKE_DB": HEALTHLAKE_DB, **overrides})


def child_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a child process (CLI, dbt) working on ``data_dir``."""
    return settings_for(data_dir, **overrides).child_env(**overrides)  # overrides win over the defaults


def dbt_target(data_dir: Path) -> Path:
    """dbt's target folder (compiled SQL, manifest, run results) for ``data_dir``."""
    return target_path(settings_for(data_dir))


def run_dbt(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """dbt through the project's one runner (source read-locks, private target path, log file)."""
    result = project_dbt(settings_for(data_dir, **env), *args, timeout_s=900)
    return subprocess.CompletedProcess(result.command, result.returncode, stdout=result.output, stderr="")


def run_cli(data_dir: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """``patient360 --data-dir DIR ARGS`` as a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "patient360", "--data-dir", str(data_dir), *args], cwd=PROJECT_DIR,
        env=child_env(data_dir, **env), capture_output=True, text=True, timeout=timeout, check=False,
    )


def land(bootstrap: str, data_dir: Path, *, topic: str = "wearables_stream", **options: float) -> RefreshReport:
    """One REFRESH of the landing for ``topic`` (the streaming-view stand-in)."""
    return refresh(KafkaSettings(bootstrap, topic=topic), data_dir, bootstrap, **options)  # type: ignore[arg-type]


def fresh_source(server, database: str) -> MySqlSettings:  # type: ignore[no-untyped-def]
    """An empty front-desk database (the app's schema, no rows) on the test MariaDB server."""
    settings = server.settings.with_database(database)
    con = connect(settings, with_database=False)
    try:
        with con.cursor() as cur:
            cur.execute(f"drop database if exists `{database}`")
        create_schema(con, database)
    finally:
        con.close()
    return settings


def synthea_sample() -> Path:
    """The real Synthea bulk export (10 patients); skips the test with how to get it when absent."""
    folder = load_shared_data().synthea_dir
    if not folder.is_dir():
        pytest.skip(f"the Synthea sample is not at {folder}: {SHARED_DATA_HINT}")
    return folder
