"""A dbt run holds shared locks on the files the local writers use: the replicator and the ingestor wait for
the build to finish instead of making dbt's read-only ATTACH fail mid-build (and vice versa)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.attachments import source_read_locks
from patient360.local_aws.streaming.landing import LandingError, landing_lock
from patient360.local_aws.zero_etl.replicator import Replicator
from patient360.settings import MySqlSettings
from tests.python.support import settings_for


def test_replicator_batch_waits_for_a_running_build(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    replicator = Replicator(MySqlSettings(), tmp_path, settings.zetl_db, build_wait_timeout=30)
    replicator.initialise()
    opened_at: list[float] = []

    def one_batch() -> None:
        with replicator.replica() as con:
            opened_at.append(time.monotonic())
            con.execute("select 1")

    with source_read_locks(settings, timeout_s=5):
        writer = threading.Thread(target=one_batch)
        writer.start()
        # while "dbt" holds the shared lock, read-only attaches keep working and the writer has not opened
        for _ in range(5):
            time.sleep(0.1)
            duckdb.connect(str(replicator.replica_path), read_only=True).close()
        assert opened_at == []
        released_at = time.monotonic()
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert opened_at and opened_at[0] >= released_at


def test_build_waits_for_a_writer_batch_and_times_out_clearly(tmp_path: Path) -> None:
    with landing_lock(tmp_path, shared=False, timeout_s=5):  # the ingestor mid-batch
        started = time.monotonic()
        settings = settings_for(tmp_path)
        with pytest.raises(LandingError, match="stream_landing.lock"), source_read_locks(settings, timeout_s=0.5):
            pytest.fail("a build started while the ingestor held its exclusive lock")
        assert time.monotonic() - started >= 0.5
