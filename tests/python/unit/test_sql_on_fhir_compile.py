"""Bad views get a ViewDefinitionError naming the view, the path and why; good views compile for both targets."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from patient360.sql_on_fhir import fhirpath
from patient360.sql_on_fhir.compile import compile_view
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.redshift_rules import parse_problems
from patient360.sql_on_fhir.schema import table_physical


def view(*columns: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "my_view", "resource": "Patient", "select": [{"column": list(columns)}], **extra}


ID = {"name": "id", "path": "id", "type": "id"}


@pytest.mark.parametrize(
    ("raw", "where", "why"),
    [
        (view(ID, {"name": "x", "path": "nmae.family"}), "select[0].column[1].path", "unknown element 'nmae'"),
        (view(ID, {"name": "x", "path": "name.family", "collection": False}), "column[1]", "several values"),
        (view(ID, {"name": "x", "path": "name.("}), "column[1].path", "invalid FHIRPath"),
        (view(ID, {"name": "x", "path": "name.family.frobnicate()"}), "column[1].path", "not in the SQL-on-FHIR"),
        (view(ID, where=[{"path": "gender"}]), "where[0].path", "needs a boolean"),
        (view({"name": "x", "path": "%nope"}), "column[0].path", "undefined constant %nope"),
        ({"name": "my_view", "resource": "Patient", "select": [{"unionAll": [
            {"column": [ID]}, {"column": [{"name": "other", "path": "id"}]}]}]}, "unionAll[1]", "same columns"),
        ({"name": "my_view", "resource": "Patinet", "select": [{"column": [ID]}]}, "resource", "not a FHIR R4"),
        (view(ID, {"name": "id", "path": "gender"}), "select[0]", "", ),
    ],
)
def test_bad_views_raise_an_error_naming_view_path_and_reason(raw: dict[str, Any], where: str, why: str) -> None:
    with pytest.raises(ViewDefinitionError) as caught:
        compile_view(raw, "patient")
    assert caught.value.view == "my_view"
    assert where in caught.value.path
    assert why in caught.value.reason
    assert "my_view" in str(caught.value)


def test_duplicate_column_names_are_refused() -> None:
    raw = {"name": "my_view", "resource": "Patient", "select": [{"column": [ID]}, {"column": [ID]}]}
    with pytest.raises(ViewDefinitionError, match="duplicate column"):
        compile_view(raw, "patient")


def test_fhirpath_parses_the_operators_by_precedence() -> None:
    node = fhirpath.parse("a = 1 and b.exists() or c")
    assert isinstance(node, fhirpath.Binary) and node.op == "or"
    assert isinstance(node.left, fhirpath.Binary) and node.left.op == "and"


def test_a_view_runs_on_a_healthlake_shaped_table_and_its_redshift_sql_parses() -> None:
    con = duckdb.connect()
    con.execute(
        "create table patient as select 'p1' as id, "
        "[{'use': 'official', 'family': 'Doe', 'given': ['Jane', 'J']}] as name, '1970-06' as birthdate"
    )
    raw = view(
        ID,
        {"name": "family", "path": "name.where(use = 'official').family.first()", "type": "string"},
        {"name": "given", "path": "name.given", "type": "string", "collection": True},
        {"name": "born_from", "path": "birthDate.lowBoundary()", "type": "date"},
    )
    rows = con.execute(compile_view(raw, "patient", table_physical(con, "patient"))).fetchall()
    assert rows == [("p1", "Doe", ["Jane", "J"], "1970-06-01")]
    redshift = compile_view(raw | {"select": [{"column": [ID, raw["select"][0]["column"][3]]}]}, "db.patient",
                            dialect="redshift")
    assert "cast(r.birthdate as varchar(65535))" in redshift
    assert parse_problems(redshift) == []


def test_an_unsaid_collection_with_several_values_fails_when_the_query_runs() -> None:
    con = duckdb.connect()
    con.execute("create table patient as select 'p1' as id, [{'family': 'A'}, {'family': 'B'}] as name")
    sql = compile_view(view(ID, {"name": "family", "path": "name.family"}), "patient", table_physical(con, "patient"))
    with pytest.raises(duckdb.Error, match="my_view.*family.*several values"):
        con.execute(sql).fetchall()
