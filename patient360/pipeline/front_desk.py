"""The front desk step: desk operations on the source MySQL (Aurora, or the private MariaDB), then the zero-ETL
replica catches up.

Patients come from the HealthLake stand-in when it holds some, else from a seeded synthetic list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from patient360.local_aws.healthlake.catalog import front_desk_patients
from patient360.local_aws.zero_etl.mysql import connect
from patient360.local_aws.zero_etl.replicator import Replicator, RunReport
from patient360.settings import MySqlSettings, Settings
from simulators.front_desk.operations import FrontDeskPatient, FrontDeskSimulator, apply
from simulators.front_desk.patients import synthetic_patients
from simulators.front_desk.schema import create_schema


@dataclass(frozen=True)
class DeskDay:
    patients: int
    operations: int
    appointments: int
    days: float
    where: str

    def summary(self) -> str:
        return (f"front desk {self.where}: {self.patients} patients, {self.operations} operations over "
                f"{self.days:g} simulated day(s), {self.appointments} appointments")


def desk_patients(settings: Settings, *, synthetic: int | None, seed: int) -> list[FrontDeskPatient]:
    """The HealthLake population when imported (unless ``synthetic`` asks for that many synthetic people)."""
    if synthetic is None and settings.healthlake_catalog_path.exists():
        return front_desk_patients(settings.healthlake_catalog_path, settings.healthlake_db)
    return synthetic_patients(synthetic or 100, seed)


def simulate_desk(
    mysql: MySqlSettings, people: list[FrontDeskPatient], *, seed: int, days: float,
    start: datetime | None = None, on_applied: Callable[[], None] | None = None,
) -> DeskDay:
    """(Re)create the schema, load 90 days of history, then ``days`` of operations, one transaction each."""
    # Default start: as many days ago as are simulated, at opening time, so the stream ends about "today".
    start = start or datetime.combine(datetime.now().date() - timedelta(days=max(1, int(days))), time(7, 30))
    simulator = FrontDeskSimulator(people, seed=seed, start=start, mrn_only_share=0.1, unknown_share=0.02)
    con = connect(mysql, with_database=False)
    try:
        create_schema(con, mysql.database, drop=True)
        con.select_db(mysql.database)
        apply(simulator.history(), con)
        operations = apply(simulator.run(days=days), con, on_applied=on_applied)
    finally:
        con.close()
    return DeskDay(len(people), operations, len(simulator.rows), days, mysql.describe())


def replicator(settings: Settings, mysql: MySqlSettings, **options: float) -> Replicator:
    return Replicator(mysql, settings.data_dir, settings.zetl_db, **options)  # type: ignore[arg-type]


def replicate(
    settings: Settings, mysql: MySqlSettings, *, once: bool, timeout: float | None = None,
    resync: bool = False, stop: threading.Event | None = None, lock_timeout: float = 300.0,
) -> tuple[Replicator, RunReport]:
    """Zero-ETL CDC into the replica: catch up and return (``once``), or follow until ``stop``."""
    cdc = replicator(settings, mysql, lock_timeout=lock_timeout)
    if resync:
        cdc.initialise()
        cdc.resync("requested")
    return cdc, cdc.run(until_caught_up=once, timeout=timeout, stop=stop)


def replication_summary(cdc: Replicator, report: RunReport) -> str:
    position = report.position.checkpoint() if report.position else "unchanged"
    return (f"zero-ETL {cdc.database} -> {cdc.replica_path.name}: {report.transactions} transactions, "
            f"{report.row_changes} row changes in {report.batches} batches, {report.resyncs} snapshot(s), "
            f"position {position}")
