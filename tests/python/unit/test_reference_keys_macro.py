"""The Redshift side of macro fhir_patient_reference_keys, rendered without dbt or a cluster: it parses as
Redshift SQL, and every value navigated out of a HealthLake SUPER column is cast to a sized VARCHAR before a
string function or a join sees it (lax mode would turn a wrong path into a silent NULL)."""

from __future__ import annotations

import re
from typing import Any

import jinja2
from sqlfluff.core import FluffConfig, Linter

from patient360.redshift_check import check_sql
from tests.python.support import PROJECT_DIR

MACROS = [PROJECT_DIR / "macros" / "fhir" / "unnest.sql", PROJECT_DIR / "macros" / "fhir" / "reference_keys.sql"]
TABLES = [("awsdatacatalog.hl.allergyintolerance", "AllergyIntolerance", "patient"),
          ("awsdatacatalog.hl.condition", "Condition", "subject")]


class RedshiftAdapter:
    """What the macros ask of dbt's adapter, as dbt-redshift answers."""

    def __init__(self) -> None:
        self.module: Any = None  # the macros' module, once rendered

    def dispatch(self, name: str, _package: str) -> Any:
        return getattr(self.module, f"redshift__{name}")

    @staticmethod
    def quote(identifier: str) -> str:
        return f'"{identifier}"'


def render_redshift() -> str:
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals["return"] = lambda value: value  # dbt's return(): the value is the macro's output here
    adapter = RedshiftAdapter()
    env.globals["adapter"] = adapter
    template = env.from_string("\n".join(path.read_text(encoding="utf-8") for path in MACROS))
    module = template.make_module({})
    adapter.module = module
    for name in ("left_join_unnest", "fhir_first"):
        env.globals[name] = getattr(module, name)
    resources = [{"relation": relation, "resource_type": kind, "element": element}
                 for relation, kind, element in TABLES]
    return str(module.fhir_patient_reference_keys(resources))


def redshift_rule_problems(sql: str) -> list[str]:
    """What sqlfluff's redshift grammar rejects, then the project's Redshift rules (patient360.redshift_check)."""
    parsed = Linter(config=FluffConfig(overrides={"dialect": "redshift"})).parse_string(sql + "\n")
    grammar = [str(violation) for violation in parsed.violations]
    return grammar or [str(v) for v in check_sql(sql, node="stg_healthlake__patient_references")]


def test_redshift_reference_keys_parse_and_cast_every_navigated_super_value() -> None:
    sql = render_redshift()
    assert redshift_rule_problems(sql) == []
    navigated = re.findall(r"(?:resources|contained_resource|contained_identifier)\.[a-z_.\"]+", sql)
    assert len(navigated) >= 14, navigated  # id, reference, identifier system / value, contained ids ...
    uncast = [path for path in navigated if f"cast({path} as varchar(4096))" not in sql
              and not path.endswith((".contained", ".identifier"))]  # arrays unnested, not read as text
    assert uncast == []
    # Every string function reads a column of the CTEs, never SUPER navigation.
    for call in re.findall(r"(?:regexp_instr|regexp_substr|regexp_replace|strpos|split_part)\(([^,]+),", sql):
        assert not call.strip().startswith(("resources.", "contained_")), call
