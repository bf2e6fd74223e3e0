"""A ViewDefinition -> Redshift SQL over the HealthLake tables (nested columns are SUPER).

Shape: one ``select`` per unionAll branch, joined with ``union all``. ``forEach`` is PartiQL unnesting
in the FROM clause (``r.name as i0 at i0_index``; the AT index is %rowIndex); ``forEachOrNull`` adds a
branch for resources whose array is empty. Every navigated value is cast before use (SUPER values are
compared, joined and returned typed), strings as VARCHAR(65535) since a bare VARCHAR is 256 bytes.
(https://docs.aws.amazon.com/redshift/latest/dg/query-super.html,
https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html)

What SUPER navigation cannot say without correlated subqueries is refused with a ViewDefinitionError
naming the path: ``repeat``, ``extension()``, ``join()``, and paths that fan out through several arrays.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import Any

from patient360.sql_on_fhir import fhirpath as fp
from patient360.sql_on_fhir import schema
from patient360.sql_on_fhir.boundaries import boundary_sql
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.expressions import BOOLEAN_TYPE, INTEGER_TYPES, STRING_TYPES
from patient360.sql_on_fhir.viewdef import Column, Path, Select, View

# Words sqlfluff's redshift dialect (or Redshift) reads as keywords: quoted when used as names.
_RESERVED = frozenset({
    "all", "asc", "case", "class", "date", "datetime", "default", "desc", "else", "end", "from", "group",
    "limit", "offset", "only", "order", "select", "system", "table", "then", "time", "timestamp", "to", "user",
    "when", "where"
})


def redshift_type(fhir_type: str | None) -> str:
    if fhir_type in INTEGER_TYPES:
        return "integer"
    if fhir_type == "decimal":
        return "double precision"
    if fhir_type == BOOLEAN_TYPE:
        return "boolean"
    return "varchar(65535)"


def _quote(text: str) -> str:
    # Redshift string literals process backslashes: double them as well as the quotes.
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _name(name: str) -> str:
    """An identifier, quoted only when it must be (reserved, or not lowercase: Redshift folds case)."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in _RESERVED else f'"{name}"'


@dataclass(frozen=True)
class RsExpr:
    sql: str
    type_name: str
    many: bool = False  # sql is a SUPER array
    primitive: bool = False
    choice: schema.Element | None = None
    kept: tuple[str, str] | None = None  # where() over an array: (item alias, condition), for exists()


@dataclass
class Branch:
    froms: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)


class RedshiftCompiler:
    def __init__(self, view: View) -> None:
        self.view = view
        self.root = RsExpr("r", view.resource)
        self._names = itertools.count()
        self.where = "select"

    def fail(self, where: str, reason: str) -> ViewDefinitionError:
        return ViewDefinitionError(self.view.name, where, f"{reason} (Redshift)")

    def compile(self, table: str) -> str:
        conditions = [self.condition(path) for path in self.view.where]
        queries = []
        for branch in self.branches(self.view.root, self.root, "0"):
            columns = ",\n    ".join(f"{sql} as {_name(name)}" for name, sql in branch.columns)
            sources = ",\n    ".join([f"{table} as r", *branch.froms])
            tests = conditions + branch.conditions
            where = "\nwhere\n    " + "\n    and ".join(tests) if tests else ""
            queries.append(f"select\n    {columns}\nfrom\n    {sources}{where}\n")
        return "\nunion all\n\n".join(queries)

    def condition(self, path: Path) -> str:
        test = self.expr(path, path.node, self.root, "0", in_where=True)
        if test.type_name != BOOLEAN_TYPE:
            raise self.fail(path.where, f"a view-level where needs a boolean, the path gives {test.type_name}")
        if test.sql.startswith(("(exists ", "(not exists ")):
            return test.sql  # never null; and EXISTS must stay a bare WHERE predicate over nested data
        return f"coalesce({test.sql}, false)"

    # --- selects ----------------------------------------------------------------------------------

    def branches(self, select: Select, focus: RsExpr, row_index: str) -> list[Branch]:
        if select.repeat:
            raise self.fail(select.where, "repeat needs recursion over SUPER, which Redshift cannot unnest")
        if select.for_each is not None:
            return self.for_each(select, select.for_each, focus)
        parts: list[list[Branch]] = []
        if select.columns:
            parts.append([Branch(columns=[(c.name, self.column(c, focus, row_index)) for c in select.columns])])
        parts += [self.branches(child, focus, row_index) for child in select.selects]
        if select.union_all:
            parts.append([b for branch in select.union_all for b in self.branches(branch, focus, row_index)])
        combined = [Branch()]
        for options in parts:
            combined = [
                Branch(a.froms + b.froms, a.conditions + b.conditions, a.columns + b.columns)
                for a in combined for b in options
            ]
        return combined

    def for_each(self, select: Select, path: Path, focus: RsExpr) -> list[Branch]:
        node, condition = path.node, None
        call = path.node if isinstance(path.node, fp.Call) else None
        if call and call.name == "where" and call.target and len(call.args) == 1:
            node, condition = call.target, call.args[0]  # x.where(c): unnest x, keep the items where c holds
        hops: list[str] = []  # a path through several arrays unnests each one in FROM
        items = self.expr(path, node, focus, "0", keep_many=True, hops=hops)
        if hops and select.or_null:
            raise self.fail(path.where, "forEachOrNull over a path through several arrays is not supported")
        body = replace(select, for_each=None, or_null=False)
        if not items.many:
            return self.for_single(select, body, items, hops, condition, path)
        alias = f"i{next(self._names)}"
        array = items.sql
        item_sql = f"cast({alias} as {redshift_type(items.type_name)})" if items.primitive else alias
        item = RsExpr(item_sql, items.type_name, primitive=items.primitive)
        inner = self.branches(body, item, f"{alias}_index")
        test = self.expr(path, condition, item, "0").sql if condition is not None else None
        for branch in inner:
            if hops and any(f"{alias}_index" in sql for _, sql in branch.columns):
                raise self.fail(path.where, "%rowIndex over a path through several arrays is not supported")
            branch.froms[:0] = [*hops, f"{array} as {alias} at {alias}_index"]
            if test:
                branch.conditions.insert(0, f"coalesce({test}, false)")
        if not select.or_null:
            return inner
        if test:
            raise self.fail(path.where, "forEachOrNull over a where() is not supported")
        # Unnesting below a missing item gives no rows: only the branches without their own FROM remain.
        first = f"cast({array}[0] as {redshift_type(items.type_name)})" if items.primitive else f"{array}[0]"
        empty_focus = RsExpr(first, items.type_name, primitive=items.primitive)
        empty = [b for b in self.branches(body, empty_focus, "0") if not b.froms]
        for branch in empty:
            branch.conditions.insert(0, f"coalesce(get_array_length({array}), 0) = 0")
        return inner + empty

    def for_single(
        self, select: Select, body: Select, item: RsExpr, hops: list[str], condition: fp.Node | None, path: Path
    ) -> list[Branch]:
        """forEach over a single item (``telecom[0]``, ``first()``): no unnesting, one row when it exists."""
        branches = self.branches(body, item, "0")
        tests = [] if select.or_null else [f"{item.sql} is not null"]
        if condition is not None:
            if select.or_null:
                raise self.fail(path.where, "forEachOrNull over a where() is not supported")
            tests.append(f"coalesce({self.expr(path, condition, item, '0').sql}, false)")
        for branch in branches:
            branch.froms[:0] = hops
            branch.conditions[:0] = tests
        return branches

    def column(self, column: Column, focus: RsExpr, row_index: str) -> str:
        value = self.expr(column.path, column.path.node, focus, row_index, keep_many=bool(column.collection))
        if value.choice is not None:
            raise self.fail(column.path.where, f"choice element {value.choice.name}[x] needs ofType()")
        if column.collection:
            return value.sql if value.many else f"array({value.sql})"  # SUPER array, like a JSON list
        if value.many:
            raise self.fail(column.path.where, f"column {column.name!r} can give several values")
        if column.type and value.primitive and redshift_type(column.type) != redshift_type(value.type_name):
            return f"cast({value.sql} as {redshift_type(column.type)})"
        return value.sql

    # --- expressions ------------------------------------------------------------------------------

    def expr(
        self, path: Path, node: fp.Node, focus: RsExpr, row_index: str, keep_many: bool = False,
        in_where: bool = False, hops: list[str] | None = None,
    ) -> RsExpr:
        compiler = _RsExpressions(self, path.where, row_index, in_where, hops)
        result = compiler.compile(node, focus)
        if result.many and not keep_many:
            raise self.fail(path.where, "this path can give several values; Redshift needs first() or an index")
        return result


@dataclass
class _RsExpressions:
    owner: RedshiftCompiler
    where: str
    row_index: str
    in_where: bool = False  # a view-level where: EXISTS over a nested array is allowed there
    hops: list[str] | None = None  # a forEach source: arrays crossed on the way, unnested in FROM

    def fail(self, reason: str) -> ViewDefinitionError:
        return self.owner.fail(self.where, reason)

    def compile(self, node: fp.Node, focus: RsExpr) -> RsExpr:
        if isinstance(node, fp.Literal):
            return self.literal(node.value)
        if isinstance(node, fp.Constant):
            if node.name == "rowIndex":
                return RsExpr(self.row_index, "integer", primitive=True)
            if node.name not in self.owner.view.constants:
                raise self.fail(f"undefined constant %{node.name}")
            return self.literal(self.owner.view.constants[node.name])
        if isinstance(node, fp.This):
            return focus
        if isinstance(node, fp.Member):
            return self.navigate(self.compile(node.target, focus) if node.target else focus, node.name)
        if isinstance(node, fp.Index):
            return self.index(self.compile(node.target, focus), self.compile(node.index, focus))
        if isinstance(node, fp.Call):
            return self.call(node, focus)
        if isinstance(node, fp.Negate):
            return RsExpr(f"(-{self.compile(node.operand, focus).sql})", "decimal", primitive=True)
        return self.binary(node, focus)

    def literal(self, value: Any) -> RsExpr:
        if value is None:
            return RsExpr("null", "string", primitive=True)
        if isinstance(value, bool):
            return RsExpr("true" if value else "false", BOOLEAN_TYPE, primitive=True)
        if isinstance(value, int):
            return RsExpr(str(value), "integer", primitive=True)
        if isinstance(value, float):
            return RsExpr(f"cast({value!r} as double precision)", "decimal", primitive=True)
        return RsExpr(_quote(value), "string", primitive=True)

    def navigate(self, expr: RsExpr, name: str) -> RsExpr:
        self.no_kept(expr)
        if expr.type_name == "ExtensionJson":
            raise self.fail(f".{name} inside an extension: its JSON text is read with JSON functions in SQL")
        if expr.choice is not None:
            raise self.fail(f"choice element {expr.choice.name}[x] needs ofType() before .{name}")
        if expr.many and self.hops is not None:
            alias = f"h{next(self.owner._names)}"
            self.hops.append(f"{expr.sql} as {alias}")
            expr = RsExpr(alias, expr.type_name)
        if expr.many:
            raise self.fail(f".{name} after a list: Redshift cannot fan out through nested arrays here; use "
                            "first(), an index or forEach")
        element = schema.element(expr.type_name, name)
        if element is None:
            raise self.fail(f"unknown element {name!r} on {expr.type_name}")
        if element.type_name == "choice":
            return replace(expr, choice=element)
        if element.type_name == "Extension":  # arrays of JSON strings: usable whole (forEach, $this) only
            return RsExpr(f"{expr.sql}.{_name(element.name.lower())}", "ExtensionJson", many=True, primitive=True)
        sql = f"{expr.sql}.{_name(element.name.lower())}"
        if element.primitive and not element.many:
            sql = f"cast({sql} as {redshift_type(element.type_name)})"  # SUPER: cast before any use
        return RsExpr(sql, element.type_name, many=element.many, primitive=element.primitive)

    def index(self, expr: RsExpr, position: RsExpr) -> RsExpr:
        if not expr.many:
            return RsExpr(f"case when {position.sql} = 0 then {expr.sql} end", expr.type_name, primitive=expr.primitive)
        return self.item(expr, position.sql)

    def item(self, expr: RsExpr, position: str) -> RsExpr:
        sql = f"{expr.sql}[{position}]"
        if expr.primitive:
            sql = f"cast({sql} as {redshift_type(expr.type_name)})"
        return RsExpr(sql, expr.type_name, primitive=expr.primitive)

    def no_kept(self, expr: RsExpr) -> None:
        if expr.kept is not None:
            raise self.fail("where() over an array is only supported before exists()/empty() in a view-level where")

    def single(self, expr: RsExpr) -> RsExpr:
        self.no_kept(expr)
        if expr.choice is not None:
            raise self.fail(f"choice element {expr.choice.name}[x] needs ofType()")
        return self.item(expr, "0") if expr.many else expr

    def call(self, node: fp.Call, focus: RsExpr) -> RsExpr:
        target = self.compile(node.target, focus) if node.target else focus
        name = node.name
        if name in ("exists", "empty", "where"):
            return self.filtering(name, target, node.args)
        if name == "first" and not node.args:
            return self.single(target)
        if name == "not":
            return RsExpr(f"(not {self.single(target).sql})", BOOLEAN_TYPE, primitive=True)
        if name == "ofType":
            return self.of_type(target, node.args)
        if name == "getResourceKey":
            return self.navigate(self.owner.root, "id")
        if name == "getReferenceKey":
            return self.reference_key(self.single(target), node.args)
        if name in ("lowBoundary", "highBoundary"):
            value = self.single(target)
            sql = boundary_sql(value.sql, value.type_name, name == "lowBoundary", dialect="redshift")
            if sql is None:
                raise self.fail(f"{name}() of a {value.type_name} is not supported")
            return RsExpr(sql, value.type_name, primitive=True)
        raise self.fail(f"{name}() over SUPER is not supported")

    def filtering(self, name: str, target: RsExpr, args: tuple[fp.Node, ...]) -> RsExpr:
        """where(), exists(), empty(): over an array, only as EXISTS in a view-level where."""
        if name == "where":
            if len(args) != 1:
                raise self.fail("where() takes one condition")
            if target.many:
                return self.where_many(target, args[0])
            kept = self.compile(args[0], target)
            return replace(target, sql=f"case when {kept.sql} then {target.sql} end")
        if target.kept is not None or (args and target.many):
            kept_items = target if target.kept is not None else self.where_many(target, args[0])
            return self.exists_subquery(kept_items, negate=name == "empty")
        if args:
            target = self.filtering("where", target, args)
        test = (f"coalesce(get_array_length({target.sql}), 0) > 0" if target.many
                else f"{self.single(target).sql} is not null")
        return RsExpr(f"({'not ' if name == 'empty' else ''}{test})", BOOLEAN_TYPE, primitive=True)

    def where_many(self, target: RsExpr, condition: fp.Node) -> RsExpr:
        alias = f"w{next(self.owner._names)}"
        item_sql = f"cast({alias} as {redshift_type(target.type_name)})" if target.primitive else alias
        test = self.compile(condition, RsExpr(item_sql, target.type_name, primitive=target.primitive))
        return replace(target, kept=(alias, test.sql))

    def exists_subquery(self, kept: RsExpr, negate: bool) -> RsExpr:
        """EXISTS over the nested array: the one subquery form Redshift allows on nested data outside FROM,
        in a WHERE clause (https://docs.aws.amazon.com/redshift/latest/dg/nested-data-restrictions.html)."""
        if not self.in_where:
            raise self.fail("exists() over a filtered array is only supported in a view-level where (Redshift)")
        assert kept.kept is not None
        alias, test = kept.kept
        subquery = f"exists (select 1 from {kept.sql} as {alias} where {test})"
        return RsExpr(f"({'not ' if negate else ''}{subquery})", BOOLEAN_TYPE, primitive=True)

    def of_type(self, target: RsExpr, args: tuple[fp.Node, ...]) -> RsExpr:
        wanted = args[0].name if args and isinstance(args[0], fp.Member) else ""
        if target.choice is not None:
            member = target.choice.choices.get(wanted.lower())
            if member is None:
                return RsExpr(f"cast(null as {redshift_type(wanted)})", wanted, primitive=True)
            return self.navigate(replace(target, choice=None), member)
        if target.type_name.lower() == wanted.lower():
            return target
        return RsExpr(f"cast(null as {redshift_type(wanted)})", wanted, primitive=True)

    def reference_key(self, target: RsExpr, args: tuple[fp.Node, ...]) -> RsExpr:
        reference = self.navigate(target, "reference").sql
        key = f"split_part({reference}, '/', 2)"
        if args and isinstance(args[0], fp.Member):
            key = f"case when split_part({reference}, '/', 1) = {_quote(args[0].name)} then {key} end"
        return RsExpr(key, "string", primitive=True)

    def binary(self, node: fp.Binary, focus: RsExpr) -> RsExpr:
        a, b = self.single(self.compile(node.left, focus)), self.single(self.compile(node.right, focus))
        if node.op in ("and", "or"):
            for side in (a, b):
                if side.type_name != BOOLEAN_TYPE:
                    raise self.fail(f"{node.op} needs booleans, the path gives {side.type_name}")
            return RsExpr(f"({a.sql} {node.op} {b.sql})", BOOLEAN_TYPE, primitive=True)
        comparisons = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        if node.op in comparisons:
            return RsExpr(f"({a.sql} {comparisons[node.op]} {b.sql})", BOOLEAN_TYPE, primitive=True)
        if node.op == "&" or (node.op == "+" and a.type_name in STRING_TYPES):
            return RsExpr(f"(coalesce({a.sql}, '') || coalesce({b.sql}, ''))", "string", primitive=True)
        arithmetic = {"+": "+", "-": "-", "*": "*", "/": "/", "mod": "%"}
        if node.op in arithmetic:
            return RsExpr(f"({a.sql} {arithmetic[node.op]} {b.sql})", "decimal", primitive=True)
        raise self.fail(f"operator {node.op!r} is not supported")
