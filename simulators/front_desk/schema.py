"""The front-desk application's schema: ``front_desk_app_db.patient_appointment``.

The reference solution's table (patient_id, gender, date_of_birth, appointment_datetime, phone_number,
primary key (patient_id, appointment_datetime)) extended the way a real front desk keeps it: an
appointment status, the provider and department, and when the booking was made / last changed.
"""

from __future__ import annotations

import pymysql

TABLE = "patient_appointment"
STATUSES = ("booked", "arrived", "fulfilled", "cancelled", "noshow")
PRIMARY_KEY = ("patient_id", "appointment_datetime")
COLUMNS = (
    "patient_id", "gender", "date_of_birth", "appointment_datetime", "phone_number",
    "status", "provider_id", "department", "booked_at", "updated_at",
)
# How the replica (DuckDB, via the zero-ETL type mapping) types each column; kept beside the DDL.
REPLICA_TYPES = {
    "patient_id": "VARCHAR", "gender": "VARCHAR", "date_of_birth": "DATE", "appointment_datetime": "TIMESTAMP",
    "phone_number": "VARCHAR", "status": "VARCHAR", "provider_id": "VARCHAR", "department": "VARCHAR",
    "booked_at": "TIMESTAMP", "updated_at": "TIMESTAMP",
}

_STATUS_LIST = ", ".join(f"'{s}'" for s in STATUSES)

PATIENT_APPOINTMENT_DDL = f"""
create table if not exists {TABLE} (
    patient_id varchar(250) not null,
    gender varchar(1),
    date_of_birth date,
    appointment_datetime datetime not null,
    phone_number varchar(15),
    status varchar(16) not null default 'booked',
    provider_id varchar(64),
    department varchar(64),
    booked_at datetime(6) not null,
    updated_at datetime(6) not null,
    primary key (patient_id, appointment_datetime),
    key ix_patient_appointment_status (status, appointment_datetime),
    constraint ck_patient_appointment_status check (status in ({_STATUS_LIST}))
) engine = InnoDB default charset = utf8mb4
"""


def create_schema(con: pymysql.connections.Connection, database: str, *, drop: bool = False) -> None:
    """Create the database and table (``drop``: start from an empty table)."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"database name must be letters, digits and underscores, got {database!r}")
    with con.cursor() as cur:
        cur.execute(f"create database if not exists `{database}` character set utf8mb4")
        cur.execute(f"use `{database}`")
        if drop:
            cur.execute(f"drop table if exists {TABLE}")
        cur.execute(PATIENT_APPOINTMENT_DDL)
    con.commit()
