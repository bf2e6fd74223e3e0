"""The live path's loader, offline: a HealthLake-shaped local table becomes a Redshift table with SUPER for its
nested columns, and every statement it would send parses as Redshift and passes the rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from patient360.redshift_check.fake_warehouse import render_bindings
from patient360.redshift_check.live import HEALTHLAKE_DB, load_healthlake_tables, main, redshift_column_type
from patient360.redshift_check.rules import check_sql


class RecordingCursor:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, sql: str) -> None:
        self.statements.append(sql)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.statements += [render_bindings(sql, row) for row in rows]


def test_nested_columns_become_super_and_every_statement_is_redshift(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "awsdatacatalog.duckdb")) as catalog:
        catalog.execute(f"create schema {HEALTHLAKE_DB}")
        catalog.execute(
            f"create table {HEALTHLAKE_DB}.patient (id varchar, deceasedboolean boolean,"
            " name struct(family varchar, given varchar[])[], extension varchar[])")
        catalog.execute(f"insert into {HEALTHLAKE_DB}.patient values ('p1', false,"
                        " [{'family': 'O''Hara', 'given': ['Ann']}], ['{\"url\": \"x\"}'])")
    cursor = RecordingCursor()
    assert load_healthlake_tables(cursor, tmp_path, "p360_live_healthlake") == ["patient: 1 rows"]
    create = next(s for s in cursor.statements if s.startswith("create table"))
    assert "name super" in create and "extension super" in create and "id varchar(65535)" in create
    assert "deceasedboolean boolean" in create
    insert = cursor.statements[-1]
    assert "json_parse('[{\"family\":\"O''Hara\"" in insert
    for statement in cursor.statements:
        assert check_sql(statement, node="live.loader") == [], statement


def test_type_mapping_follows_iceberg_on_redshift() -> None:
    assert redshift_column_type("STRUCT(a VARCHAR)") == "super"
    assert redshift_column_type("VARCHAR[]") == "super"
    assert redshift_column_type("VARCHAR") == "varchar(65535)"


def test_without_credentials_it_skips_saying_why(monkeypatch: Any, capsys: Any) -> None:
    for name in ("REDSHIFT_HOST", "REDSHIFT_USER", "REDSHIFT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert main() == 0
    assert "SKIPPED make test-redshift: set REDSHIFT_HOST" in capsys.readouterr().out
