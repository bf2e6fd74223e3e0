"""Session fixtures: one private MariaDB (real server, loopback only) and the Synthea sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from patient360.local_aws.zero_etl import mariadb_server as server_module
from tests.python.support import synthea_sample


@pytest.fixture(scope="session")
def synthea_dir() -> Path:
    return synthea_sample()


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server_module.MariaDbServer]:
    if not server_module.is_installed():
        pytest.fail("MariaDB is not installed: run `make services` (apt-get install -y mariadb-server)")
    server = server_module.start(tmp_path_factory.mktemp("mariadb"), timeout=90)
    yield server
    server_module.stop(server)
