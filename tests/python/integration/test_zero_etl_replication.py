"""Front desk on a real MariaDB -> binlog CDC -> DuckDB replica: equal row for row, through kills and DDL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.zero_etl import replicator as replicator_module
from patient360.local_aws.zero_etl.mysql import connect
from patient360.local_aws.zero_etl.replicator import METADATA_SCHEMA, NO_PK_REASON, Replicator, ZeroEtlError
from patient360.local_aws.zero_etl.verify import compare
from patient360.settings import MySqlSettings
from simulators.front_desk.operations import FrontDeskSimulator, apply, ground_truth_rows
from simulators.front_desk.patients import synthetic_patients
from simulators.front_desk.schema import COLUMNS, TABLE
from tests.python.support import PROJECT_DIR, child_env, fresh_source, run_cli

pytestmark = pytest.mark.slow
START = datetime(2026, 3, 2, 7, 30)


def simulator(seed: int = 42, patients: int = 150) -> FrontDeskSimulator:
    return FrontDeskSimulator(
        synthetic_patients(patients, seed=seed), seed=seed, start=START, mrn_only_share=0.1, unknown_share=0.02,
    )


def replica_state(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            f"select table_name, table_state, reason from {METADATA_SCHEMA}.integration_table_state order by 1"
        ).fetchall()


def assert_equal(settings: MySqlSettings, replicator: Replicator, sim: FrontDeskSimulator) -> None:
    comparison = compare(settings, replicator.replica_path, TABLE, COLUMNS)
    assert comparison.equal, comparison.summary()
    con = connect(settings)
    try:
        with con.cursor() as cur:
            cur.execute(f"select {', '.join(COLUMNS)} from {TABLE}")
            assert sorted(cur.fetchall()) == ground_truth_rows(sim), "source table differs from the simulator"
    finally:
        con.close()


def test_day_of_operations_replicates_row_for_row(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_day")
    sim = simulator()
    con = connect(settings)
    apply(sim.history(), con)
    replicator = Replicator(settings, tmp_path, "zetl_day", server_id=5001)
    first = replicator.run(until_caught_up=True, timeout=60)
    assert first.resyncs == 1
    assert_equal(settings, replicator, sim)

    operations = apply(sim.run(days=1), con)
    con.close()
    kinds = sim.stats.by_kind
    assert operations > 200 and kinds.get("delete") and kinds.get("reschedule") and kinds.get("phone_correction")
    report = replicator.run(until_caught_up=True, timeout=60)
    assert report.resyncs == 0, "a restart from a stored position must not snapshot again"
    assert report.transactions == operations
    assert_equal(settings, replicator, sim)
    assert replica_state(replicator.replica_path) == [(TABLE, "Synced", None)]
    with duckdb.connect(str(replicator.replica_path), read_only=True) as duck:
        lag = duck.execute(f"select count(*), min(lag_seconds) from {METADATA_SCHEMA}.replication_lag").fetchone()
    assert lag[0] >= 1 and lag[1] >= 0


def test_replica_stays_equal_when_the_replicator_is_killed_mid_stream(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_kill")
    sim = simulator(seed=7)
    con = connect(settings)
    apply(sim.history(), con)
    operations = list(sim.run(days=3))
    env = child_env(tmp_path, P360_ZETL_DB="zetl_kill", **settings.as_env())
    command = [sys.executable, "-m", "patient360", "--data-dir", str(tmp_path), "replicate", "--timeout", "120"]

    def launch() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    writer_done = threading.Event()

    def write() -> None:
        try:
            chunk = 25
            for start in range(0, len(operations), chunk):
                apply(operations[start:start + chunk], con)
                time.sleep(0.05)
        finally:
            writer_done.set()

    process = launch()
    replicator = Replicator(settings, tmp_path, "zetl_kill", lock_timeout=10)
    snapshot_deadline = time.monotonic() + 30
    while not replicator.replica_path.exists() or replicator.stored_position() is None:
        assert time.monotonic() < snapshot_deadline, "no initial snapshot within 30 s"
        time.sleep(0.1)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    positions = []
    kills = 0
    deadline = time.monotonic() + 90
    while not writer_done.is_set() and time.monotonic() < deadline:
        time.sleep(0.7)
        process.kill()  # SIGKILL: no cleanup, wherever it is
        process.wait(timeout=10)
        kills += 1
        if replicator.replica_path.exists():
            positions.append(replicator.stored_position())
        process = launch()
    writer.join(timeout=60)
    process.kill()
    process.wait(timeout=10)
    con.close()
    assert writer_done.is_set(), "the writer did not finish in time"
    assert kills >= 2, "the writer finished before the replicator could be killed mid-stream"
    stored = [p for p in positions if p is not None]
    assert stored and stored == sorted(stored), f"positions must only move forward: {stored}"

    source = connect(settings)
    try:
        end = replicator.current_source_position(source)
    finally:
        source.close()
    assert stored[0] < end, "every kill came after the replicator had caught up: nothing was mid-stream"
    final = replicator.run(until_caught_up=True, timeout=60)
    assert final.resyncs == 0
    assert_equal(settings, replicator, sim)
    # neither lost nor repeated: across all kills, every source transaction was applied exactly once
    with duckdb.connect(str(replicator.replica_path), read_only=True) as duck:
        (applied,) = duck.execute(f"select sum(transactions) from {METADATA_SCHEMA}.replication_lag").fetchone()
    assert applied == len(operations)


def test_crash_between_apply_and_commit_leaves_data_and_position_together(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_crash")
    sim = simulator(seed=3, patients=60)
    con = connect(settings)
    apply(sim.history(), con)
    Replicator(settings, tmp_path, "zetl_crash").run(until_caught_up=True, timeout=60)
    before = compare(settings, tmp_path / "zetl_crash.duckdb", TABLE, COLUMNS)
    day = apply(sim.run(days=1), con)
    con.close()

    def crash(point: str) -> None:
        if point == "apply_before_commit":
            raise RuntimeError("simulated crash")

    crashing = Replicator(settings, tmp_path, "zetl_crash", fault_hook=crash)
    position = crashing.stored_position()
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.run(until_caught_up=True, timeout=60)
    assert crashing.stored_position() == position
    from patient360.local_aws.zero_etl.verify import replica_rows, source_rows
    unchanged = replica_rows(crashing.replica_path, settings.database, TABLE, COLUMNS)
    assert len(unchanged) == before.replica_rows
    assert source_rows(settings, TABLE, COLUMNS) != unchanged, "the day's operations changed nothing?"

    healthy = Replicator(settings, tmp_path, "zetl_crash")
    rerun = healthy.run(until_caught_up=True, timeout=60)
    assert rerun.resyncs == 0
    assert rerun.transactions == day, "the crashed batch must be applied once, all of it, on the next run"
    assert_equal(settings, healthy, sim)


def test_table_without_primary_key_is_refused(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_nopk")
    con = connect(settings)
    with con.cursor() as cur:
        cur.execute("create table walk_in_log (note varchar(50), logged_at datetime)")
        cur.execute("insert into walk_in_log values ('x', now())")
    con.commit()
    replicator = Replicator(settings, tmp_path, "zetl_nopk")
    report = replicator.run(until_caught_up=True, timeout=60)
    assert report.refused == ["walk_in_log"]
    states = dict((name, (state, reason)) for name, state, reason in replica_state(replicator.replica_path))
    assert states["walk_in_log"] == ("Failed", NO_PK_REASON)
    assert states[TABLE] == ("Synced", None)
    with pytest.raises(replicator_module.NoPrimaryKeyError, match="fd_nopk.walk_in_log: Table does not have"):
        replicator_module.require_primary_key(replicator.tables["walk_in_log"], settings.database)
    # changes to the refused table are ignored, the others still flow
    with con.cursor() as cur:
        cur.execute("insert into walk_in_log values ('y', now())")
    con.commit()
    sim = simulator(seed=9, patients=30)
    apply(sim.run(days=0.5), con)
    con.close()
    replicator.run(until_caught_up=True, timeout=60)
    assert_equal(settings, replicator, sim)
    with duckdb.connect(str(replicator.replica_path), read_only=True) as duck:
        tables = {r[0] for r in duck.execute(
            "select table_name from information_schema.tables where table_schema = 'fd_nopk'").fetchall()}
    assert tables == {TABLE}
    # the command line says so and exits non-zero
    cli = run_cli(tmp_path, "replicate", "--once", "--timeout", "30", timeout=60, P360_ZETL_DB="zetl_nopk",
                  **settings.as_env())
    assert cli.returncode == 1
    assert "walk_in_log: Table does not have a primary key" in cli.stderr


def test_ddl_marks_tables_resync_required_then_resyncs(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_ddl")
    sim = simulator(seed=4, patients=40)
    con = connect(settings)
    apply(sim.history(), con)
    Replicator(settings, tmp_path, "zetl_ddl").run(until_caught_up=True, timeout=60)
    with con.cursor() as cur:
        cur.execute(f"alter table {TABLE} add column reminder_sent tinyint(1) not null default 0")
        cur.execute(f"update {TABLE} set reminder_sent = 1 where status = 'booked'")
    con.commit()

    def fail_resync(point: str) -> None:
        if point == "resync_before_commit":
            raise RuntimeError("resync interrupted")

    with pytest.raises(RuntimeError, match="resync interrupted"):
        Replicator(settings, tmp_path, "zetl_ddl", fault_hook=fail_resync).run(until_caught_up=True, timeout=60)
    states = replica_state(tmp_path / "zetl_ddl.duckdb")
    # the resync began (and crashed): the state says so and keeps why it was needed
    assert states[0][:2] == (TABLE, "ResyncInitiated") and "ALTER" in states[0][2]

    replicator = Replicator(settings, tmp_path, "zetl_ddl")
    report = replicator.run(until_caught_up=True, timeout=60)
    assert report.resyncs == 1
    assert replica_state(replicator.replica_path) == [(TABLE, "Synced", None)]
    comparison = compare(settings, replicator.replica_path, TABLE, [*COLUMNS, "reminder_sent"])
    assert comparison.equal, comparison.summary()
    con.close()


def test_source_without_row_based_binlog_is_rejected(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_binlog")
    con = connect(settings)
    with con.cursor() as cur:
        cur.execute("set global binlog_row_image = 'MINIMAL'")
    try:
        with pytest.raises(ZeroEtlError, match=r"binlog_row_image=MINIMAL \(needs FULL\)"):
            Replicator(settings, tmp_path, "zetl_binlog").run(until_caught_up=True, timeout=30)
    finally:
        with con.cursor() as cur:
            cur.execute("set global binlog_row_image = 'FULL'")
        con.close()


def test_apply_failure_marks_tables_failed_and_the_next_run_resyncs(mariadb_server, tmp_path: Path) -> None:
    settings = fresh_source(mariadb_server, "fd_failed")
    sim = simulator(seed=8, patients=40)
    con = connect(settings)
    apply(sim.history(), con)
    Replicator(settings, tmp_path, "zetl_failed").run(until_caught_up=True, timeout=60)
    apply(sim.run(days=0.5), con)
    con.close()

    def replica_error(point: str) -> None:
        if point == "apply_before_commit":
            raise duckdb.ConversionException("value out of range")

    with pytest.raises(ZeroEtlError, match="applying changes failed: ConversionException; the next run resyncs"):
        Replicator(settings, tmp_path, "zetl_failed", fault_hook=replica_error).run(until_caught_up=True, timeout=60)
    (state,) = replica_state(tmp_path / "zetl_failed.duckdb")
    assert state[:2] == (TABLE, "Failed")
    replicator = Replicator(settings, tmp_path, "zetl_failed")
    assert replicator.run(until_caught_up=True, timeout=60).resyncs == 1
    assert replica_state(replicator.replica_path) == [(TABLE, "Synced", None)]
    assert_equal(settings, replicator, sim)
