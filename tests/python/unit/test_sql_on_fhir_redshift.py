"""The Redshift forms of what needs more than FROM-clause unnesting: paths through several arrays (scalar
aggregate subqueries over the nested arrays), extension(), and repeat (a recursive CTE). Redshift is never
reachable here: each form is checked for its shape, the Redshift grammar and the project's Redshift rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from patient360.sql_on_fhir.compile import compile_view
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.redshift_rules import redshift_problems
from tests.python.support import PROJECT_DIR

ID = {"name": "id", "path": "id", "type": "id"}
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"


def redshift(*columns: dict[str, Any], resource: str = "Patient", **extra: Any) -> str:
    raw = {"name": "v", "resource": resource, "select": [{"column": [ID, *columns]}], **extra}
    sql = compile_view(raw, f"awsdatacatalog.hl.{resource.lower()}", dialect="redshift")
    assert redshift_problems(sql) == [], sql
    return sql


def test_join_through_two_arrays_aggregates_the_items_in_order() -> None:
    sql = redshift({"name": "given", "path": "name.given.join(', ')", "type": "string"})
    assert "from r.name as f0 at f0_index, f0.given as f1 at f1_index" in sql
    assert "listagg(cast(f1 as varchar(65535)), ', ') within group (order by f0_index, f1_index)" in sql
    assert sql.count("coalesce(") == 1  # an empty list joins to '' as on DuckDB


def test_first_through_two_arrays_picks_the_first_item_by_position() -> None:
    sql = redshift({"name": "v", "path": "name.where(use = 'official').family.first()", "type": "string"})
    assert "split_part((select listagg(cast(f0.family as varchar(65535)), chr(31))" in sql
    assert "coalesce((cast(f0.use as varchar(65535)) = 'official'), false)" in sql


def test_collection_columns_are_json_arrays_and_exists_counts_in_a_column() -> None:
    sql = redshift({"name": "given", "path": "name.given", "type": "string", "collection": True},
                   {"name": "has_given", "path": "name.given.exists()", "type": "boolean"})
    assert "json_parse('[' || coalesce((select listagg(json_serialize(f1), ',')" in sql
    assert "(select count(*) from r.name as f2 at f2_index, f2.given as f3 at f3_index where f3 is not null) > 0" in sql


def test_exists_in_a_view_level_where_is_a_bare_exists_predicate() -> None:
    sql = redshift(where=[{"path": "name.where(use = 'official').exists() and gender = 'female'"}])
    where = sql.split("\nwhere\n", 1)[1]
    assert where.lstrip().startswith("(exists (select 1 from r.name as f0 at f0_index")
    assert "and coalesce((cast(r.gender as varchar(65535)) = 'female'), false)" in where


def test_an_unsaid_collection_column_fails_the_query_naming_the_column_when_several_values() -> None:
    sql = redshift({"name": "given", "path": "name.given", "type": "string"})
    assert "case when count(*) > 1 then cast(cast('ViewDefinition ''v'': column ''given'' gave several values" in sql


def test_extensions_are_parsed_once_and_nested_extensions_unnest() -> None:
    path = f"extension('{RACE}').extension('ombCategory').value.ofType(Coding).code.first()"
    sql = redshift({"name": "race", "path": path, "type": "code"})
    assert sql.startswith("with resources as (")
    assert "as p360_extension" in sql and "from\n    resources as r" in sql
    assert "from r.p360_extension as f0 at f0_index, f0.extension as f1 at f1_index" in sql
    assert f"cast(f0.url as varchar(65535)) = '{RACE}'" in sql and "cast(f1.valuecoding.code" in sql


def test_extension_below_the_resource_is_refused_with_the_reason() -> None:
    with pytest.raises(ViewDefinitionError, match="extension\\(\\) below the resource"):
        compile_view({"name": "v", "resource": "Patient", "select": [{"column": [
            {"name": "x", "path": "name.first().extension('u').value.ofType(string)"}]}]}, "t", dialect="redshift")


def test_repeat_is_a_recursive_cte_over_every_path_with_a_depth_first_row_index() -> None:
    raw = {"name": "v", "resource": "QuestionnaireResponse", "select": [
        {"column": [ID]},
        {"repeat": ["item", "answer.item"], "column": [
            {"name": "i", "path": "%rowIndex", "type": "integer"},
            {"name": "link_id", "path": "linkId", "type": "string"}]}]}
    sql = compile_view(raw, "awsdatacatalog.hl.questionnaireresponse", dialect="redshift")
    assert redshift_problems(sql) == [], sql
    assert sql.startswith("with recursive repeat_0 (k0, node_key, depth, state, node, next_arrays) as (")
    assert "array(r.item, cast(null as super))" in sql  # the resource has no answer: a null way, not a bad column
    assert "array(node.item, node.answer)" in sql and "where p.depth < 100" in sql
    assert "row_number() over (partition by k0 order by node_key) - 1 as item_index" in sql
    assert "q1.item_index as i" in sql and "q1.k0 = cast(r.id as varchar(64))" in sql


def test_the_readme_worked_example_shows_the_redshift_sql_the_compiler_writes() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    example = readme[readme.index("### Worked example"):]
    view_json = re.search(r"```json\n(.*?)```", example, re.S)
    shown = re.search(r'dialect="redshift"\)`\):\n\n```sql\n(.*?)```', example, re.S)
    assert view_json and shown, "README: the worked example's view or Redshift SQL block is gone"
    view = json.loads(view_json.group(1))
    assert shown.group(1) == compile_view(view, "awsdatacatalog.patient360_healthlake_view.patient", dialect="redshift")


def test_the_resource_inside_a_filter_over_a_nested_list_is_refused_naming_the_rule() -> None:
    raw = {"name": "v", "resource": "Patient", "select": [{"column": [
        ID, {"name": "self_link", "path": "link.where(other.getReferenceKey() = getResourceKey()).exists()",
             "type": "boolean"}]}]}
    with pytest.raises(ViewDefinitionError, match="getResourceKey\\(\\) inside a where\\(\\) over a nested list"):
        compile_view(raw, "awsdatacatalog.hl.patient", dialect="redshift")
    compile_view(raw, "t", dialect="duckdb", strict=False)  # DuckDB has no such limit
