"""The CLI on Kinesis (P360_STREAM_KIND=kinesis), as a user runs it: `services start kinesis` (kinesalite kept
running), `simulate wearables` (the reference payload), `ingest`, `status` (per shard: checkpoint, lag), `services
stop kinesis`; without a Kinesis the verbs fail with exit 2 and say how to get one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.python.support import run_cli, settings_for

pytestmark = pytest.mark.slow
KINESIS = {"P360_STREAM_KIND": "kinesis"}


def test_simulate_ingest_status_on_kinesis(tmp_path: Path) -> None:
    if not settings_for(tmp_path).kinesis.kinesalite.is_file():
        pytest.skip("kinesalite is not installed (P360_KINESALITE): run `make services` (needs npm)")
    missing = run_cli(tmp_path, "ingest", **KINESIS)
    assert missing.returncode == 2 and "patient360 services start kinesis" in missing.stderr
    started = run_cli(tmp_path, "services", "start", "kinesis", **KINESIS)
    assert started.returncode == 0 and started.stdout.startswith("export KINESIS_ENDPOINT_URL=http://127.0.0.1:")
    try:
        produced = run_cli(tmp_path, "simulate", "wearables", "--synthetic-patients", "4", "--minutes", "30",
                           "--payload", "reference", "--partitions", "2", **KINESIS)
        assert produced.returncode == 0 and "120 records to Kinesis stream" in produced.stderr, produced.stderr
        landed = run_cli(tmp_path, "ingest", **KINESIS)
        assert landed.returncode == 0 and "120 records landed" in landed.stderr, landed.stderr
        status = run_cli(tmp_path, "status", "--no-freshness", "--json", **KINESIS)
        assert status.returncode == 0, status.stderr
        shards = json.loads(status.stdout)["kinesis_shards"]
        assert len(shards) == 2 and sum(s["landed_rows"] for s in shards) == 120
        assert all(s["sequence_number"] and s["millis_behind_latest"] == 0 and not s["finished"] for s in shards)
    finally:
        stopped = run_cli(tmp_path, "services", "stop", "kinesis", **KINESIS)
    assert "kinesis: stopped" in stopped.stderr
