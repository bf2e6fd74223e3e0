"""Redshift rules over the statements dbt sends: each a small function over one parsed statement (or the whole
recorded sequence, for lineage), citing the AWS page that states the rule. Public API: check_sql for one
statement generated anywhere (dbt, SQL-on-FHIR, streaming views, UNLOAD/COPY), check_statements for a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlfluff.core.parser.segments import BaseSegment

from patient360.redshift_check.parsing import grammar_gap, parse

EXTERNAL_DATABASES = frozenset({"awsdatacatalog"})
DEFAULT_STREAM_SCHEMAS = frozenset({"wearables_msk"})


@dataclass(frozen=True)
class Violation:
    rule: str
    node: str
    message: str
    url: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.node}: {self.message} ({self.url})"


@dataclass(frozen=True)
class Context:
    """What a rule needs to know beyond the statement: which schemas are external (Kafka) streams."""

    stream_schemas: frozenset[str] = DEFAULT_STREAM_SCHEMAS
    external_lineage_views: frozenset[str] = frozenset()  # lower-case two- or three-part view names


class StatementLike(Protocol):
    """What the rules read from a statement: recorder.Statement, StatementInput or any SQL generator's record."""

    @property
    def sql(self) -> str: ...

    @property
    def node(self) -> str: ...

    @property
    def phase(self) -> str: ...


@dataclass(frozen=True)
class StatementInput:
    """A statement from elsewhere (SQL-on-FHIR, streaming view DDL, UNLOAD/COPY) to check with a run."""

    sql: str
    node: str = "<sql>"
    kind: str = ""
    phase: str = ""


Rule = Callable[[BaseSegment, str, Context], list[str]]


@dataclass
class _Registry:
    rules: dict[str, tuple[Rule, str]] = field(default_factory=dict)


RULES = _Registry()


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        url = re.search(r"https://\S+", function.__doc__ or "")
        if url is None:
            raise ValueError(f"rule {name} must cite its AWS documentation page in its docstring")
        RULES.rules[name] = (function, url.group(0))
        return function
    return register


# --- tree helpers -------------------------------------------------------------------------------------------

def walk(segment: BaseSegment, ancestors: tuple[BaseSegment, ...] = ()) -> Iterator[tuple[BaseSegment, tuple]]:
    """Every segment with its ancestors (sqlfluff segments do not point to their parent)."""
    yield segment, ancestors
    for child in segment.segments:
        yield from walk(child, (*ancestors, segment))


def reference_parts(segment: BaseSegment) -> list[str]:
    return [part.raw.strip('"').lower() for part in segment.segments
            if part.is_type("naked_identifier", "quoted_identifier")]


def table_references(tree: BaseSegment) -> list[list[str]]:
    return [reference_parts(ref) for ref in tree.recursive_crawl("table_reference")]


def is_cast(segment: BaseSegment) -> bool:
    if segment.is_type("cast_expression"):
        return True
    if segment.is_type("function"):
        name = next(iter(segment.recursive_crawl("function_name")), None)
        return name is not None and name.raw.lower() in ("cast", "json_serialize", "json_typeof", "is_object")
    return False


# --- rules --------------------------------------------------------------------------------------------------

def _created_view_name(tree: BaseSegment) -> list[str] | None:
    statement = next(iter(tree.recursive_crawl("create_view_statement")), None)
    if statement is None:
        return None
    name = next(iter(statement.recursive_crawl("table_reference")), None)
    return reference_parts(name) if name is not None else None


def reaches_outside(parts: list[str], own_database: str | None, context: Context) -> bool:
    """An external (Glue catalog, Kafka) or cross-database relation, or a view known to read one."""
    if len(parts) == 3 and (parts[0] in EXTERNAL_DATABASES or (own_database and parts[0] != own_database)):
        return True
    if len(parts) >= 2 and parts[-2] in context.stream_schemas:
        return True
    return ".".join(parts[-2:]) in context.external_lineage_views or ".".join(parts) in context.external_lineage_views


@rule("late_binding_view")
def late_binding_view(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """A view over an external table (or over a view that reads one, or another database) must be created WITH
    NO SCHEMA BINDING. https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html"""
    name = _created_view_name(tree)
    if name is None or re.search(r"with\s+no\s+schema\s+binding", sql, re.IGNORECASE):
        return []
    own_database = name[0] if len(name) == 3 else None
    outside = [".".join(p) for p in table_references(tree)[1:] if reaches_outside(p, own_database, context)]
    if not outside:
        return []
    return [f"view {'.'.join(name)} reads {', '.join(sorted(set(outside)))} but is not WITH NO SCHEMA BINDING"]


def _cte_names(tree: BaseSegment) -> set[str]:
    return {cte.segments[0].raw.strip('"').lower() for cte in tree.recursive_crawl("common_table_expression")}


@rule("late_binding_view_unqualified")
def late_binding_view_unqualified(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """A view WITH NO SCHEMA BINDING must schema-qualify every relation it names (system views too: pg_catalog.x),
    or CREATE VIEW fails. https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html"""
    if _created_view_name(tree) is None or not re.search(r"with\s+no\s+schema\s+binding", sql, re.IGNORECASE):
        return []
    local = _cte_names(tree)
    unqualified = {p[0] for p in table_references(tree)[1:] if len(p) == 1 and p[0] not in local}
    return [f"late-binding view names {name} without its schema" for name in sorted(unqualified)]


_REGEX_METACHARACTERS = r".^$*+?()[]{}|"


@rule("single_backslash_in_literal")
def single_backslash_in_literal(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """Redshift processes backslash escapes in string literals, so a regex needs two backslashes before a
    metacharacter; one is eaten and the metacharacter keeps its meaning.
    https://docs.aws.amazon.com/redshift/latest/dg/pattern-matching-conditions-posix.html"""
    found = []
    for literal in tree.recursive_crawl("quoted_literal"):
        text = re.sub(r"\\\\", "", literal.raw)  # an escaped backslash is a real one
        if any(f"\\{char}" in text for char in _REGEX_METACHARACTERS):
            found.append(f"literal {literal.raw[:60]} has a single backslash before a regex metacharacter")
    return found


@rule("varchar_without_length")
def varchar_without_length(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """A VARCHAR column declared without a length in CREATE TABLE holds 256 bytes, and a longer insert fails;
    contract columns fed by aggregates or free text need an explicit length.
    https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html"""
    found = []
    for segment, ancestors in walk(tree):
        in_column_list = any(a.is_type("create_table_statement") for a in ancestors) and not any(
            a.is_type("select_statement", "function", "cast_expression") for a in ancestors)
        if not (in_column_list and segment.is_type("data_type")):
            continue
        words = segment.raw.lower().split()
        if words and words[-1] in ("varchar", "varying", "text", "nvarchar", "bpchar"):
            siblings = ancestors[-1].segments
            position = siblings.index(segment)
            column = next((s.raw for s in reversed(siblings[:position]) if s.is_type("column_reference")), "?")
            found.append(f"column {column} is {segment.raw} without a length (256 bytes)")
    return found


@rule("stream_read_outside_streaming_view")
def stream_read_outside_streaming_view(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """A Kafka/Kinesis external schema is read only by a streaming materialized view; queries read the view.
    https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html"""
    streams = {".".join(p) for p in table_references(tree) if len(p) >= 2 and p[-2] in context.stream_schemas}
    if not streams or next(iter(tree.recursive_crawl("create_materialized_view_statement")), None) is not None:
        return []
    return [f"reads the stream {', '.join(sorted(streams))} directly, not through its streaming view"]


def _unnest_aliases(select: BaseSegment) -> set[str]:
    """Aliases of PartiQL un-nesting (`join parent.array as alias`): a two-part source is an alias path."""
    aliases = set()
    for expression in select.recursive_crawl("from_expression_element", no_recursive_seg_type="select_statement"):
        source = next(iter(expression.recursive_crawl("table_reference")), None)
        alias = next(iter(expression.recursive_crawl("alias_expression")), None)
        if source is not None and alias is not None and len(reference_parts(source)) == 2:
            aliases.add(reference_parts(alias)[-1] if reference_parts(alias) else alias.raw.split()[-1].lower())
        elif at_index := _UNNEST_AT.fullmatch(expression.raw.strip()):
            aliases.add(at_index.group(1).lower())  # sqlfluff has no alias segment for `... as x at i`
    return aliases


_UNNEST_AT = re.compile(r"\w+\.\w+\s+(?:as\s+)?(\w+)\s+at\s+\w+", re.IGNORECASE)


def _super_paths(select: BaseSegment) -> Iterator[tuple[BaseSegment, tuple]]:
    unnested = _unnest_aliases(select)
    for segment, ancestors in walk(select):
        if not segment.is_type("column_reference") or any(a.is_type("select_statement") for a in ancestors[1:]):
            continue
        parts = reference_parts(segment)
        parent = ancestors[-1] if ancestors else None
        navigated = parent is not None and any(
            s.is_type("array_accessor", "semi_structured_expression") for s in parent.segments
        )
        if len(parts) >= 3 or navigated or (parts and parts[0] in unnested):
            yield segment, ancestors


@rule("super_value_not_cast")
def super_value_not_cast(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """A value navigated out of an Iceberg list/struct column is SUPER; it must be cast before a contract column,
    a join key or a string function (lax mode turns a wrong path into a silent NULL).
    https://docs.aws.amazon.com/redshift/latest/dg/querying-iceberg-supported-data-types.html"""
    if not any(p and p[0] in EXTERNAL_DATABASES for p in table_references(tree)):
        return []
    found = []
    for select in tree.recursive_crawl("select_statement"):
        for path, ancestors in _super_paths(select):
            if not any(is_cast(a) for a in ancestors) and not _reads_no_value(path, ancestors):
                found.append(f"SUPER path {path.raw} is used without a cast")
    return sorted(set(found))


# Functions that take a SUPER value as it is (its shape, not its content as text or a number).
# https://docs.aws.amazon.com/redshift/latest/dg/get_array_length.html,
# https://docs.aws.amazon.com/redshift/latest/dg/r_Type_information_functions.html
SUPER_SHAPE_FUNCTIONS = frozenset({"get_array_length", "is_array", "is_object", "is_scalar", "json_typeof",
                                   "json_size", "json_serialize"})


def _reads_no_value(path: BaseSegment, ancestors: tuple) -> bool:
    """``<path> is [not] null`` or a SUPER shape function reads no value: no cast is needed (a missing path is
    null either way)."""
    parent = ancestors[-1] if ancestors else None
    if parent is not None and _tested_for_null(path, parent):
        return True
    functions = [a for a in ancestors if a.is_type("function")]
    if not functions:
        return False
    name = functions[-1].raw.split("(", 1)[0].strip().lower()
    return name in SUPER_SHAPE_FUNCTIONS


def _tested_for_null(path: BaseSegment, parent: BaseSegment) -> bool:
    """The words right after the path (past its own subscripts and members) are IS [NOT] NULL."""
    siblings = [s for s in parent.segments if not s.is_type("whitespace", "newline", "comment")]
    position = next((i for i, s in enumerate(siblings) if s is path), None)
    if position is None:
        return False
    following = siblings[position + 1:]
    while following and following[0].is_type("array_accessor", "semi_structured_expression"):
        following = following[1:]
    words = [s.raw.lower() for s in following[:3]]
    return words[:2] == ["is", "null"] or words == ["is", "not", "null"]


@rule("outer_join_with_super")
def outer_join_with_super(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """SUPER values and their aliases cannot be used in RIGHT or FULL OUTER joins.
    https://docs.aws.amazon.com/redshift/latest/dg/limitations-super.html"""
    reads_super = any(p and p[0] in EXTERNAL_DATABASES for p in table_references(tree)) or bool(
        re.search(r"\bjson_parse\s*\(", sql, re.IGNORECASE))
    if not reads_super:
        return []
    joins = [j for j in tree.recursive_crawl("join_clause")
             if re.match(r"(right|full)\b", j.raw.strip(), re.IGNORECASE)]
    return [f"{j.raw.split(' join')[0].strip().upper()} JOIN in a statement over SUPER values" for j in joins]


@rule("masking_policy_other_database")
def masking_policy_other_database(tree: BaseSegment, sql: str, context: Context) -> list[str]:
    """A masking policy attaches only to relations in its own (the connected) database: name the relation
    without a database. https://docs.aws.amazon.com/redshift/latest/dg/r_ATTACH_MASKING_POLICY.html"""
    if not re.match(r"\s*attach\s+masking\s+policy", sql, re.IGNORECASE):
        return []
    relation = re.search(r"\bon\s+([\w\".]+)", sql, re.IGNORECASE)
    if relation and relation.group(1).count(".") >= 2:
        return [f"attaches a policy to {relation.group(1)}, a three-part name (policy and table must share a database)"]
    return []


# --- public API ---------------------------------------------------------------------------------------------

def check_sql(sql: str, *, node: str = "<sql>", context: Context | None = None) -> list[Violation]:
    """Every rule over one statement; a statement the Redshift grammar rejects is itself a violation."""
    parsed = parse(sql)
    if parsed.error is not None and grammar_gap(sql) is not None:
        return []  # valid Redshift outside sqlfluff's grammar: counted by the caller, see parsing.KNOWN_GRAMMAR_GAPS
    if parsed.error is not None or parsed.tree is None:
        return [Violation("redshift_grammar", node, f"does not parse as Redshift SQL: {parsed.error}",
                          "https://docs.aws.amazon.com/redshift/latest/dg/c_SQL_commands.html")]
    body = parsed.tree.raw
    return [Violation(name, node, message, url)
            for name, (function, url) in RULES.rules.items()
            for message in function(parsed.tree, body, context or Context())]


_EXTERNAL_STREAM_SCHEMA = re.compile(
    r"create\s+external\s+schema\s+(?:if\s+not\s+exists\s+)?([\w\"]+)\s+from\s+(?:msk|kafka|kinesis)", re.IGNORECASE)


def _stream_schemas(statements: Sequence[StatementLike]) -> frozenset[str]:
    found = (_EXTERNAL_STREAM_SCHEMA.search(s.sql) for s in statements)
    return frozenset(m.group(1).strip('"').lower() for m in found if m) | DEFAULT_STREAM_SCHEMAS


def _external_lineage(statements: Sequence[StatementLike], stream_schemas: frozenset[str]) -> frozenset[str]:
    """Views (by final name, dbt's __dbt_tmp suffix removed) whose lineage reaches outside, in creation order."""
    found: set[str] = set()
    for statement in statements:
        tree = parse(statement.sql).tree
        name = _created_view_name(tree) if tree is not None else None
        if tree is None or not name:
            continue
        context = Context(stream_schemas, frozenset(found))
        own_database = name[0] if len(name) == 3 else None
        if any(reaches_outside(p, own_database, context) for p in table_references(tree)[1:]):
            final = re.sub(r"__dbt_tmp\w*$", "", ".".join(name[-2:]))
            found.add(final)
    return frozenset(found)


ONE_STREAMING_VIEW_URL = "https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html"


def one_streaming_view_per_stream(statements: Sequence[StatementLike], context: Context) -> list[Violation]:
    """Each streaming materialized view reads the whole stream, so two on one topic double its egress: AWS
    recommends one per stream, other views reading it. (Cross-statement: checked over a run, per phase.)
    https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion.html"""
    readers: dict[tuple[str, str], dict[str, str]] = {}
    for statement in statements:
        tree = parse(statement.sql).tree
        if tree is None or next(iter(tree.recursive_crawl("create_materialized_view_statement")), None) is None:
            continue
        view, *sources = table_references(tree)
        for source in sources:
            if len(source) >= 2 and source[-2] in context.stream_schemas:
                readers.setdefault((statement.phase, ".".join(source)), {})[".".join(view[-2:])] = statement.node
    return [Violation("one_streaming_view_per_stream", node,
                      f"{len(views)} streaming materialized views read {stream}: {', '.join(sorted(views))}",
                      ONE_STREAMING_VIEW_URL)
            for (_, stream), views in readers.items() if len(views) > 1 for node in sorted(set(views.values()))]


def check_statements(statements: Iterable[StatementLike]) -> list[Violation]:
    """Every rule over a recorded run; lineage (which views read outside) is taken across the whole run."""
    ordered = list(statements)
    stream_schemas = _stream_schemas(ordered)
    context = Context(stream_schemas, _external_lineage(ordered, stream_schemas))
    violations: list[Violation] = []
    for statement in ordered:
        violations += check_sql(statement.sql, node=statement.node, context=context)
    return violations + one_streaming_view_per_stream(ordered, context)
