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


def project_rule_problems(sql: str) -> list[str]:
    """>>> HOOK for issue 13 ("Redshift for real"): call the project's Redshift rules here, e.g.
    ``patient360.redshift_check`` (SUPER navigation cast before use, varchar lengths, late binding...).
    Being built in parallel in ``patient360/redshift_check/``; until it is merged, no rule runs here."""
    return []


def redshift_problems(sql: str) -> list[str]:
    return parse_problems(sql) + project_rule_problems(sql)
