"""Zero-ETL replica, property-based: random operation sequences with the replicator SIGKILLed and
restarted at random points; after catch-up the replica equals the source (and the test's own model of
it) every time. A column added on the source mid-stream: the tables go ResyncRequired ->
ResyncInitiated -> Synced, and the replica has the new column and equals the source.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from patient360.local_aws.zero_etl.mysql import connect
from patient360.local_aws.zero_etl.replicator import METADATA_SCHEMA, Replicator
from patient360.local_aws.zero_etl.verify import compare
from patient360.settings import MySqlSettings
from simulators.front_desk.schema import COLUMNS, STATUSES, TABLE
from tests.python.faults.conftest import Figures
from tests.python.support import PROJECT_DIR, child_env, fresh_source

pytestmark = [pytest.mark.slow, pytest.mark.faults]

PATIENTS = [f"prop-{n}" for n in range(5)]
DAY = datetime(2026, 4, 6, 8, 0)
SLOTS = 40
EXAMPLES = 10

_counter = itertools.count()
TOTALS: Counter[str] = Counter()

insert = st.tuples(st.just("insert"), st.integers(0, len(PATIENTS) - 1), st.integers(0, SLOTS - 1),
                   st.integers(0, 9999))
operation = st.one_of(
    insert, insert, insert,  # weighted: the table grows while it is changed
    st.tuples(st.just("update_phone"), st.integers(0, len(PATIENTS) - 1), st.integers(0, 9999)),
    st.tuples(st.just("update_status"), st.integers(0, 10_000), st.sampled_from(STATUSES)),
    st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
    st.tuples(st.just("reschedule"), st.integers(0, 10_000), st.integers(0, SLOTS - 1)),
    st.tuples(st.just("kill"), st.floats(0.0, 0.6)),
)


def slot(n: int) -> datetime:
    return DAY + timedelta(minutes=15 * n)


class Desk:
    """Applies operations to MariaDB and keeps the table it must hold (the model)."""

    def __init__(self, settings: MySqlSettings) -> None:
        self.con = connect(settings)
        self.rows: dict[tuple[str, datetime], dict[str, Any]] = {}
        self.tick = 0

    def _now(self) -> datetime:
        self.tick += 1
        return DAY - timedelta(days=1) + timedelta(seconds=self.tick)

    def _pick(self, index: int) -> tuple[str, datetime] | None:
        keys = sorted(self.rows)
        return keys[index % len(keys)] if keys else None

    def apply(self, op: tuple[Any, ...]) -> bool:
        kind, now = op[0], self._now()
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if kind == "insert":
            key = (PATIENTS[op[1]], slot(op[2]))
            if key in self.rows:
                return False
            row = {"patient_id": key[0], "gender": "F", "date_of_birth": datetime(1980, 1, 1).date(),
                   "appointment_datetime": key[1], "phone_number": f"+1555{op[3]:07d}", "status": "booked",
                   "provider_id": "fm-01", "department": "family-medicine", "booked_at": now, "updated_at": now}
            self.rows[key] = row
            statements.append((f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({', '.join(['%s'] * 10)})",
                               tuple(row[c] for c in COLUMNS)))
        elif kind == "update_phone":
            phone = f"+1666{op[2]:07d}"
            for key, row in self.rows.items():
                if key[0] == PATIENTS[op[1]]:
                    row.update(phone_number=phone, updated_at=now)
            statements.append((f"update {TABLE} set phone_number = %s, updated_at = %s where patient_id = %s",
                               (phone, now, PATIENTS[op[1]])))
        elif kind in ("update_status", "cancel", "delete", "reschedule"):
            key = self._pick(op[1])
            if key is None:
                return False
            where = "where patient_id = %s and appointment_datetime = %s"
            if kind == "delete":
                del self.rows[key]
                statements.append((f"delete from {TABLE} {where}", key))
            elif kind == "reschedule":  # a primary-key change
                new_key = (key[0], slot(op[2]))
                if new_key in self.rows:
                    return False
                row = self.rows.pop(key)
                row.update(appointment_datetime=new_key[1], updated_at=now)
                self.rows[new_key] = row
                statements.append((f"update {TABLE} set appointment_datetime = %s, updated_at = %s {where}",
                                   (new_key[1], now, *key)))
            else:
                status = op[2] if kind == "update_status" else "cancelled"
                self.rows[key].update(status=status, updated_at=now)
                statements.append((f"update {TABLE} set status = %s, updated_at = %s {where}", (status, now, *key)))
        with self.con.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
        self.con.commit()
        return True

    def model_rows(self) -> list[tuple[Any, ...]]:
        return sorted(tuple(row[c] for c in COLUMNS) for row in self.rows.values())


def follower(settings: MySqlSettings, data_dir: Path, zetl_db: str) -> subprocess.Popen[bytes]:
    env = child_env(data_dir, P360_ZETL_DB=zetl_db, **settings.as_env())
    return subprocess.Popen(
        [sys.executable, "-m", "patient360", "--data-dir", str(data_dir), "replicate", "--timeout", "120"],
        env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=(data_dir / f"{zetl_db}.log").open("ab"),
    )


def replica_states(path: Path) -> dict[str, tuple[str, str | None]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            f"select table_name, table_state, reason from {METADATA_SCHEMA}.integration_table_state"
        ).fetchall()
    return {name: (state, reason) for name, state, reason in rows}


@settings(max_examples=EXAMPLES, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=st.lists(operation, min_size=25, max_size=70))
def test_replica_equals_source_after_random_operations_and_kills(
    mariadb_server, tmp_path: Path, operations: list[tuple[Any, ...]]
) -> None:  # type: ignore[no-untyped-def]
    n = next(_counter)
    database, zetl_db = f"fd_prop_{n}", f"zetl_prop_{n}"
    settings_ = fresh_source(mariadb_server, database)
    desk = Desk(settings_)
    process = follower(settings_, tmp_path, zetl_db)
    kills = applied = 0
    try:
        for op in operations:
            if op[0] == "kill":
                time.sleep(op[1])  # anywhere: starting, snapshotting, streaming, applying a batch
                process.kill()
                process.wait(timeout=30)
                kills += 1
                process = follower(settings_, tmp_path, zetl_db)
            else:
                applied += desk.apply(op)
        time.sleep(0.2)
    finally:
        process.kill()
        process.wait(timeout=30)
        desk.con.close()
    replicator = Replicator(settings_, tmp_path, zetl_db, server_id=6100 + n)
    replicator.run(until_caught_up=True, timeout=60)
    comparison = compare(settings_, replicator.replica_path, TABLE, COLUMNS)
    assert comparison.equal, comparison.summary()
    from patient360.local_aws.zero_etl.verify import replica_rows

    assert sorted(replica_rows(replicator.replica_path, database, TABLE, COLUMNS)) == desk.model_rows()
    assert replica_states(replicator.replica_path)[TABLE] == ("Synced", None)
    TOTALS.update(examples=1, operations=applied, kills=kills + 1, rows=len(desk.rows))


def test_replica_property_figures(record_figures) -> None:  # type: ignore[no-untyped-def]
    """Runs after the property test (file order): its totals, as figures."""
    if not TOTALS["examples"]:
        pytest.skip("the property test did not run")
    record_figures(Figures(
        area="replica", test=f"random operations x kills ({TOTALS['examples']} examples)",
        faults_injected={"replicator_sigkill": TOTALS["kills"]},
        records_in=TOTALS["operations"], records_checked=TOTALS["rows"], lost=0, duplicated=0,
        notes=f"{TOTALS['operations']} source transactions, {TOTALS['rows']} final rows compared row for row",
    ))


def test_added_column_mid_stream_resyncs_with_a_clear_state(
    mariadb_server, tmp_path: Path, record_figures
) -> None:  # type: ignore[no-untyped-def]
    database, zetl_db = "fd_prop_ddl", "zetl_prop_ddl"
    settings_ = fresh_source(mariadb_server, database)
    desk = Desk(settings_)
    for n in range(30):
        desk.apply(("insert", n % len(PATIENTS), n, n))
    process = follower(settings_, tmp_path, zetl_db)
    kills = 0
    try:
        for n in range(20):
            desk.apply(("update_status", n, STATUSES[n % len(STATUSES)]))
        time.sleep(0.8)
        process.kill()
        process.wait(timeout=30)
        kills += 1
        process = follower(settings_, tmp_path, zetl_db)
        with desk.con.cursor() as cur:  # mid-stream, while the replicator follows
            cur.execute(f"alter table {TABLE} add column reminder_sent tinyint(1) not null default 0")
            cur.execute(f"update {TABLE} set reminder_sent = 1 where status = 'booked'")
        desk.con.commit()
        for n in range(10):
            desk.apply(("reschedule", n, SLOTS - 1 - n))
        time.sleep(0.3)
        process.kill()  # maybe in the middle of the resync
        process.wait(timeout=30)
        kills += 1
    finally:
        process.kill()
        process.wait(timeout=30)

    columns = [*COLUMNS, "reminder_sent"]
    replicator = Replicator(settings_, tmp_path, zetl_db, server_id=6099)
    replicator.run(until_caught_up=True, timeout=60)
    comparison = compare(settings_, replicator.replica_path, TABLE, columns)
    assert comparison.equal, comparison.summary()
    assert replica_states(replicator.replica_path)[TABLE] == ("Synced", None)

    # Another added column, the resync crashing before it commits: the state shows where it is and why.
    with desk.con.cursor() as cur:
        cur.execute(f"alter table {TABLE} add column language varchar(8) null")
        cur.execute(f"update {TABLE} set language = 'es' where status = 'cancelled'")
    desk.con.commit()
    desk.con.close()

    def crash(point: str) -> None:
        if point == "resync_before_commit":
            raise RuntimeError("resync interrupted")

    with pytest.raises(RuntimeError, match="resync interrupted"):
        Replicator(settings_, tmp_path, zetl_db, server_id=6098, fault_hook=crash).run(
            until_caught_up=True, timeout=60)
    state, reason = replica_states(replicator.replica_path)[TABLE]
    assert state == "ResyncInitiated" and reason == "DDL on the source: ALTER statement"
    report = Replicator(settings_, tmp_path, zetl_db, server_id=6097).run(until_caught_up=True, timeout=60)
    assert report.resyncs == 1
    assert replica_states(replicator.replica_path)[TABLE] == ("Synced", None)
    comparison = compare(settings_, replicator.replica_path, TABLE, [*columns, "language"])
    assert comparison.equal, comparison.summary()
    record_figures(Figures(
        area="replica", test="added column mid-stream (resync)",
        faults_injected={"replicator_sigkill": kills, "add_column_ddl": 2, "resync_crash": 1},
        records_in=comparison.source_rows, records_checked=comparison.replica_rows, lost=0, duplicated=0,
        notes="ResyncRequired -> ResyncInitiated -> Synced; replica has both new columns",
    ))
