from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from simulators.front_desk.connection import MySqlSettings, connect
from simulators.front_desk.schema import create_schema
from simulators.settings import dbt_executable
from simulators.warehouse import ensure_attached_sources, source_read_locks

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
        "P360_TARGET": "local",
    }


def run_dbt(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt against a private data dir, with private target/log paths so runs never share state. Like the
    CLI, it holds the sources' shared locks so an ingestor or replicator never writes while dbt has them attached."""
    ensure_attached_sources(data_dir)
    command = [
        dbt_executable(), *args, "--project-dir", str(PROJECT_DIR),
        "--target-path", str(data_dir / "dbt-target"), "--log-path", str(data_dir / "dbt-logs"),
    ]
    with source_read_locks(data_dir, timeout_s=60):
        return subprocess.run(command, env=dbt_env(data_dir), capture_output=True, text=True, timeout=600)


# --- front desk / zero-ETL: one private MariaDB for the session (real server, loopback only) ---------


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from simulators.zero_etl import mariadb_server as server_module

    if not server_module.is_installed():
        pytest.fail("MariaDB is not installed: run `make services` (apt-get install -y mariadb-server)")
    server = server_module.start(tmp_path_factory.mktemp("mariadb"), timeout=90)
    yield server
    server_module.stop(server)


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
