"""Checks on the generated Redshift SQL (Redshift is never reachable here: prove it offline)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _linter() -> Any:
    from sqlfluff.core import FluffConfig, Linter

    return Linter(config=FluffConfig(overrides={"dialect": "redshift"}))


def parse_problems(sql: str) -> list[str]:
    """What sqlfluff's redshift dialect cannot parse (unparsable segments, with line and position)."""
    parsed = _linter().parse_string(sql)
    problems = [f"L{e.line_no}:{e.line_pos} {e.desc()}" for e in parsed.violations]
    if parsed.tree is not None:
        problems += [f"unparsable: {seg.raw[:80]!r}" for seg in parsed.tree.recursive_crawl("unparsable")]
    return problems


def project_rule_problems(sql: str, view: str = "<view>") -> list[str]:
    """The project's Redshift rules (patient360.redshift_check: SUPER values cast before use, no single
    backslash before a regex metacharacter, no outer join over SUPER, ...), each citing its AWS page."""
    from patient360.redshift_check import check_sql

    return [str(violation) for violation in check_sql(sql, node=f"sql_on_fhir:{view}")]


def redshift_problems(sql: str) -> list[str]:
    return parse_problems(sql) or project_rule_problems(sql)
