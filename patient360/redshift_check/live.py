"""make test-redshift: the part only a cluster proves. Loads the Synthea sample into HealthLake-shaped tables
(nested columns as SUPER) on a real Redshift, builds the project there with --target redshift, and compares
patient_360 and fct_patient_allergies row for row with a DuckDB build of the same data.

Skips (exit 0, saying so) unless REDSHIFT_HOST, REDSHIFT_USER and REDSHIFT_PASSWORD are set. It writes only
schemas prefixed with REDSHIFT_SCHEMA (default patient360) in REDSHIFT_DATABASE; nothing is dropped elsewhere.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from patient360.dbt import run_dbt
from patient360.local_aws.attachments import ensure_attached_sources
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.settings import RedshiftSettings, Settings, load_redshift_settings, load_settings, load_shared_data

HEALTHLAKE_DB = "patient360_healthlake_view"
COMPARED_MODELS = ("patient_360", "fct_patient_allergies")
AS_OF = "2026-01-01 00:00:00"  # one "now" for both builds: ages and time windows agree


def duckdb_import(synthea_dir: Path, settings: Settings) -> None:
    """The Synthea sample in the local HealthLake layout (the same import the DuckDB tests use)."""
    report = import_bulk_export(synthea_dir, settings.data_dir, settings.healthlake_db)
    if report.rejected:
        raise SystemExit(f"the Synthea sample at {synthea_dir} has rejected resources: {report.rejected}")
    ensure_attached_sources(settings)


def redshift_column_type(duckdb_type: str) -> str:
    """Iceberg on Redshift: list/map/struct are SUPER, string varchar, so the stand-in tables use the same."""
    upper = duckdb_type.upper()
    if upper.endswith("[]") or upper.startswith(("STRUCT", "MAP", "JSON")):
        return "super"
    return {"BOOLEAN": "boolean", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "float8",
            "DATE": "date", "TIMESTAMP": "timestamp"}.get(upper, "varchar(65535)")


def load_healthlake_tables(cursor: Any, data_dir: Path, schema: str) -> list[str]:
    """Every resource table of the local catalog as a Redshift table of the same shape, SUPER for nested columns."""
    import duckdb

    loaded = []
    with duckdb.connect(str(data_dir / "awsdatacatalog.duckdb"), read_only=True) as local:
        tables = [row[0] for row in local.execute(
            "select table_name from information_schema.tables where table_schema = ?", [HEALTHLAKE_DB]).fetchall()]
        cursor.execute(f"create schema if not exists {schema}")
        for table in tables:
            columns = local.execute(f"describe {HEALTHLAKE_DB}.{table}").fetchall()
            types = [(name, redshift_column_type(kind)) for name, kind, *_ in columns]
            cursor.execute(f"drop table if exists {schema}.{table}")
            cursor.execute(f"create table {schema}.{table} ({', '.join(f'{n} {t}' for n, t in types)})")
            select = ", ".join(f"to_json({n})::varchar" if t == "super" else n for n, t in types)
            rows = local.execute(f"select {select} from {HEALTHLAKE_DB}.{table}").fetchall()
            values = ", ".join("json_parse(%s)" if t == "super" else "%s" for _, t in types)
            for batch in batches(rows, 200):
                cursor.executemany(f"insert into {schema}.{table} values ({values})", batch)
            loaded.append(f"{table}: {len(rows)} rows")
    return loaded


def batches(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def empty_other_sources(cursor: Any, settings: RedshiftSettings) -> dict[str, str]:
    """Front desk and stream stand-ins (empty): the build needs them; the comparison is about HealthLake data."""
    front_desk = f"{settings.schema}_live_front_desk"
    stream = f"{settings.schema}_live_stream"
    cursor.execute(f"create schema if not exists {front_desk}")
    cursor.execute(f"create schema if not exists {stream}")
    cursor.execute(f"drop table if exists {front_desk}.patient_appointment")
    cursor.execute(
        f"create table {front_desk}.patient_appointment (patient_id varchar(64), appointment_datetime timestamp,"
        " status varchar(32), department varchar(128), provider_id varchar(64), gender varchar(8),"
        " date_of_birth date, phone_number varchar(64), booked_at timestamp, updated_at timestamp)")
    cursor.execute(f"drop table if exists {stream}.wearables_stream cascade")
    cursor.execute(
        f"create table {stream}.wearables_stream (kafka_partition integer, kafka_offset bigint,"
        " kafka_timestamp_type char(1), kafka_timestamp timestamp, kafka_key varbyte(1024),"
        " kafka_value varbyte(1048576), kafka_headers super, refresh_time timestamp)")
    return {"front_desk_schema": front_desk, "stream_schema": stream}


def dbt_build(settings: Settings, target: str, variables: dict[str, Any]) -> None:
    # no zero-ETL integration exists for the empty front-desk stand-in: its state test cannot pass
    result = run_dbt(settings, "build", "--exclude", "assert_front_desk_integration_state_readable", target=target,
                     dbt_vars=variables, target_name=f"target-{target}")
    if not result.ok:
        raise SystemExit(f"dbt build --target {target} failed:\n{result.output[-4000:]}")


def normalised(value: Any) -> Any:
    """One representation for both warehouses: floats to 6 places, dates/times as ISO text, Decimal as float."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return str(value)


def sorted_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(normalised(v) for v in row) for row in rows), key=repr)


def duckdb_rows(data_dir: Path, model: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as local:
        schema = local.execute(
            "select table_schema from information_schema.tables where table_name = ? and table_schema like '%marts'",
            [model]).fetchone()
        if schema is None:
            raise SystemExit(f"the DuckDB build has no {model}")
        result = local.execute(f"select * from {schema[0]}.{model}")
        return [c[0].lower() for c in result.description], sorted_rows(result.fetchall())


def redshift_rows(cursor: Any, schema: str, model: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor.execute(f"select * from {schema}_marts.{model}")
    return [c[0].lower() for c in cursor.description], sorted_rows(cursor.fetchall())


def differences(model: str, local: tuple[list[str], list[tuple]], remote: tuple[list[str], list[tuple]]) -> list[str]:
    if local[0] != remote[0]:
        return [f"{model}: columns differ: DuckDB {local[0]} vs Redshift {remote[0]}"]
    only_local = [row for row in local[1] if row not in set(remote[1])]
    only_remote = [row for row in remote[1] if row not in set(local[1])]
    found = [f"{model}: {len(local[1])} rows on DuckDB, {len(remote[1])} on Redshift"] if len(local[1]) != len(
        remote[1]) else []
    found += [f"{model}: only on DuckDB: {row}" for row in only_local[:10]]
    found += [f"{model}: only on Redshift: {row}" for row in only_remote[:10]]
    return found


def run(settings: RedshiftSettings, synthea_dir: Path) -> int:
    import redshift_connector

    if not synthea_dir.is_dir():
        print(f"P360_SYNTHEA_DIR={synthea_dir} is not a directory: the Synthea sample is needed")
        return 1
    data_dir = Path(tempfile.mkdtemp(prefix="p360-live-"))
    local = load_settings(data_dir, P360_HEALTHLAKE_DB=HEALTHLAKE_DB)
    duckdb_import(synthea_dir, local)
    dbt_build(local, "local", {"as_of": AS_OF})
    connection = redshift_connector.connect(host=settings.host, port=settings.port, user=settings.user,
                                            password=settings.password, database=settings.database)
    connection.autocommit = True
    cursor = connection.cursor()
    healthlake_schema = f"{settings.schema}_live_healthlake"
    print("\n".join(load_healthlake_tables(cursor, data_dir, healthlake_schema)))
    others = empty_other_sources(cursor, settings)
    variables = {"as_of": AS_OF, "healthlake_catalog": settings.database, "healthlake_db": healthlake_schema,
                 "zetl_db": settings.database, "front_desk_schema": others["front_desk_schema"],
                 "wearables_msk_schema": others["stream_schema"]}
    dbt_build(local, "redshift", variables)
    problems = [problem for model in COMPARED_MODELS for problem in differences(
        model, duckdb_rows(data_dir, model), redshift_rows(cursor, settings.schema, model))]
    print("\n".join(problems) or f"{', '.join(COMPARED_MODELS)}: identical on Redshift and DuckDB")
    return 1 if problems else 0


def main() -> int:
    settings = load_redshift_settings()
    if settings is None:
        print("SKIPPED make test-redshift: set REDSHIFT_HOST, REDSHIFT_USER, REDSHIFT_PASSWORD (and optionally "
              "REDSHIFT_PORT, "
              "REDSHIFT_DATABASE, REDSHIFT_SCHEMA) to run it against a real cluster; nothing was run. "
              "The offline check is `make redshift-check`.")
        return 0
    return run(settings, load_shared_data().synthea_dir)


if __name__ == "__main__":
    sys.exit(main())
