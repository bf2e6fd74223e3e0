"""Parse statements with sqlfluff's redshift dialect: one parser, reused; identical statements parsed once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlfluff.core import FluffConfig, Linter
from sqlfluff.core.parser.segments import BaseSegment

_QUERY_COMMENT = re.compile(r"^\s*/\*.*?\*/", re.DOTALL)


@dataclass(frozen=True)
class Parsed:
    tree: BaseSegment | None
    error: str | None  # the first unparsable part, when the grammar rejects the statement


@lru_cache(maxsize=1)
def _linter() -> Linter:
    # raw: the statements are final SQL; jinja would re-template any `{{` inside literals
    return Linter(config=FluffConfig(overrides={"dialect": "redshift", "templater": "raw"}))


def without_query_comment(sql: str) -> str:
    """dbt's leading /* {"app": "dbt", ...} */ differs per node; the statement is what follows."""
    return _QUERY_COMMENT.sub("", sql, count=1).strip()


@lru_cache(maxsize=4096)
def parse(sql: str) -> Parsed:
    body = without_query_comment(sql).rstrip().rstrip(";")
    result = _linter().parse_string(body + "\n")
    errors = [*result.violations]
    tree = result.tree
    if tree is not None:
        unparsable = next(iter(tree.recursive_crawl("unparsable")), None)
        if unparsable is not None:
            line, _ = unparsable.pos_marker.source_position() if unparsable.pos_marker else (0, 0)
            return Parsed(tree, f"unparsable at line {line}: {unparsable.raw[:120]!r}")
    if errors:
        return Parsed(tree, str(errors[0].desc()))
    return Parsed(tree, None)


# Valid Redshift that sqlfluff's grammar does not cover, in dbt-redshift's own catalog queries (not project SQL).
# Matched narrowly; the check reports how many statements fell here instead of hiding them.
KNOWN_GRAMMAR_GAPS: dict[str, re.Pattern[str]] = {
    "column definition list on pg_get_late_binding_view_cols() (dbt-redshift get_columns_in_relation)":
        re.compile(r"from pg_get_late_binding_view_cols\(\)\s+cols\(view_schema name,"),
    "`column` as a column alias (dbt-redshift describe_materialized_view)":
        re.compile(r"a\.attname as column,\s+a\.attisdistkey as is_dist_key"),
}


def grammar_gap(sql: str) -> str | None:
    """Which known sqlfluff grammar gap a statement falls in, if any."""
    return next((name for name, pattern in KNOWN_GRAMMAR_GAPS.items() if pattern.search(sql)), None)
