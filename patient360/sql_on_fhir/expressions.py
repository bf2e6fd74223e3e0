"""FHIRPath AST -> DuckDB SQL expressions over the HealthLake layout.

A compiled expression is an ``Expr``: a singleton (a scalar or struct; NULL is the empty collection) or,
when ``many``, a DuckDB LIST. Paths through lists become ``list_transform``/``flatten``; functions whose
argument is a per-item expression (``where``) become lambdas. Extensions are arrays of JSON strings in
the layout, so below an ``extension`` navigation reads the JSON with the FHIR (camelCase) names.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import Any

from patient360.sql_on_fhir import fhirpath as fp
from patient360.sql_on_fhir import schema
from patient360.sql_on_fhir.errors import ViewDefinitionError

STRING_TYPES = frozenset({
    "string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "xhtml",
    "date", "dateTime", "instant", "time",
})
INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})
BOOLEAN_TYPE = "boolean"


def duckdb_type(fhir_type: str | None) -> str:
    """The DuckDB type of a FHIR primitive (dates stay strings, as in the layout)."""
    if fhir_type in INTEGER_TYPES:
        return "integer"
    if fhir_type == "decimal":
        return "double"
    if fhir_type == BOOLEAN_TYPE:
        return "boolean"
    return "varchar"


@dataclass(frozen=True)
class Expr:
    sql: str
    type_name: str
    many: bool = False
    physical: schema.Physical | None = None  # the item's DuckDB type; None: not in the table, or JSON
    json: bool = False  # the item is JSON text (inside an extension)
    choice: schema.Element | None = None  # a value[x] awaiting ofType(); sql is then its parent
    absent: bool = False  # FHIR knows the element, no imported resource has it


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_CHAIN = re.compile(r'^[a-z_][a-z0-9_]*(?:\."[a-z0-9_]+"|\[\d+\])*$')


def _member(sql: str, name: str) -> str:
    """``sql."name"``; parenthesised unless ``sql`` is a plain navigation chain (``r."type"[1]``)."""
    return f'{sql}."{name}"' if _CHAIN.match(sql) else f'({sql})."{name}"'


def _index_sql(sql: str, position: str) -> str:
    """1-based list element; a literal position on a plain chain needs no parentheses."""
    literal = re.fullmatch(r"\((\d+)\) \+ 1", position)
    index = str(int(literal.group(1)) + 1) if literal else position
    return f"{sql}[{index}]" if _CHAIN.match(sql) else f"({sql})[{index}]"


@dataclass
class ExprCompiler:
    view: str
    where: str  # the path's place in the view, for errors
    constants: dict[str, Any]
    root: Expr
    row_index: str = "0"
    _names: itertools.count[int] = field(default_factory=itertools.count)
    strict: bool = False  # compiling against a declared schema: an element missing from it is an error

    def fail(self, reason: str) -> ViewDefinitionError:
        return ViewDefinitionError(self.view, self.where, reason)

    def var(self) -> str:
        return f"v{next(self._names)}"

    # --- entry ------------------------------------------------------------------------------------

    def compile(self, node: fp.Node, focus: Expr) -> Expr:
        if isinstance(node, fp.Literal):
            return self.literal(node.value)
        if isinstance(node, fp.Constant):
            return self.constant(node.name)
        if isinstance(node, fp.This):
            return focus
        if isinstance(node, fp.Member):
            if node.target is None and node.name == self.root.type_name and focus is self.root:
                return focus  # "Patient.name": the resource type names the root
            return self.navigate(self.compile(node.target, focus) if node.target else focus, node.name)
        if isinstance(node, fp.Index):
            return self.index(self.compile(node.target, focus), self.single(self.compile(node.index, focus)))
        if isinstance(node, fp.Call):
            return self.call(node, focus)
        if isinstance(node, fp.Negate):
            return Expr(f"(-{self.single(self.compile(node.operand, focus)).sql})", "decimal")
        return self.binary(node, focus)

    def literal(self, value: Any) -> Expr:
        if value is None:
            return Expr("null", "string", absent=True)
        if isinstance(value, bool):
            return Expr("true" if value else "false", BOOLEAN_TYPE)
        if isinstance(value, int):
            return Expr(str(value), "integer")
        if isinstance(value, float):
            return Expr(f"cast({value!r} as double)", "decimal")
        return Expr(_quote(value), "string")

    def constant(self, name: str) -> Expr:
        if name == "rowIndex":
            return Expr(self.row_index, "integer")
        if name not in self.constants:
            raise self.fail(f"undefined constant %{name}")
        return self.literal(self.constants[name])

    # --- collections ------------------------------------------------------------------------------

    def single(self, expr: Expr) -> Expr:
        """The first item (FHIRPath singleton evaluation): a list becomes its first element."""
        if expr.choice is not None:
            raise self.fail(f"choice element {expr.choice.name}[x] needs ofType() here")
        return replace(expr, sql=_index_sql(expr.sql, "1"), many=False) if expr.many else expr

    def as_list(self, expr: Expr) -> str:
        if expr.many:
            return f"coalesce({expr.sql}, [])"
        if expr.absent:
            return f"cast([] as {duckdb_type(expr.type_name)}[])"
        item = self.var()
        return f"list_filter([{expr.sql}], lambda {item}: {item} is not null)"

    def lift(self, expr: Expr, step: Any) -> Expr:
        """Apply ``step`` (item Expr -> Expr) to every item of a collection."""
        if not expr.many:
            return step(expr)
        if expr.absent:  # nothing to map over; keep the FHIR cardinality for the static checks
            empty: Expr = step(replace(expr, many=False))
            return replace(empty, many=True, sql=f"cast([] as {duckdb_type(empty.type_name)}[])")
        item = self.var()
        result: Expr = step(replace(expr, sql=item, many=False))
        if result.absent:
            return result
        mapped = f"list_transform({expr.sql}, lambda {item}: {result.sql})"
        if result.many:
            return replace(result, sql=f"flatten({mapped})", many=True)
        kept = self.var()
        return replace(result, sql=f"list_filter({mapped}, lambda {kept}: {kept} is not null)", many=True)

    def index(self, expr: Expr, position: Expr) -> Expr:
        if expr.many:
            return replace(expr, sql=_index_sql(expr.sql, f"({position.sql}) + 1"), many=False)
        return replace(expr, sql=f"case when ({position.sql}) = 0 then {expr.sql} end")

    # --- navigation -------------------------------------------------------------------------------

    def navigate(self, expr: Expr, name: str) -> Expr:
        if expr.choice is not None:
            raise self.fail(f"choice element {expr.choice.name}[x] needs ofType() before .{name}")
        element = schema.element(expr.type_name, name)
        if element is None:
            raise self.fail(f"unknown element {name!r} on {expr.type_name}")
        if element.type_name == "choice":
            return replace(expr, choice=element)
        return self.lift(expr, lambda item: self.child(item, element))

    def child(self, item: Expr, element: schema.Element) -> Expr:
        if item.absent:
            return self.absent(element)
        if item.json:
            return self.json_child(item, element)
        physical = (item.physical.fields or {}).get(element.name.lower()) if item.physical else None
        if physical is None:
            return self.absent(element)
        sql = _member(item.sql, element.name.lower())
        if element.type_name == "Extension":  # arrays of JSON strings in the layout
            return Expr(sql, "Extension", many=True, json=True)
        if element.many:
            return Expr(sql, element.type_name, many=True, physical=physical.item)
        return Expr(sql, element.type_name, physical=physical)

    def absent(self, element: schema.Element) -> Expr:
        if self.strict:
            raise self.fail(f"element {element.name!r} is not in the table's declared schema "
                            "(patient360/local_aws/healthlake/layout.py BASE_SCHEMAS): declare it there first")
        if element.many:
            return Expr(f"cast([] as {duckdb_type(element.type_name)}[])", element.type_name, many=True, absent=True)
        return Expr(f"cast(null as {duckdb_type(element.type_name)})", element.type_name, absent=True)

    def json_child(self, item: Expr, element: schema.Element) -> Expr:
        path = _quote(f"$.{element.name}")
        if element.many:
            items = f"cast(json_extract({item.sql}, {path}) as varchar[])"
            expr = Expr(items, element.type_name, many=True, json=True)
            return self.lift(expr, self.json_primitive) if element.primitive else expr
        if element.primitive:
            return self.json_primitive(Expr(f"json_extract({item.sql}, {path})", element.type_name, json=True))
        return Expr(f"json_extract({item.sql}, {path})", element.type_name, json=True)

    def json_primitive(self, item: Expr) -> Expr:
        text = f"json_extract_string({item.sql}, '$')"
        return Expr(f"cast({text} as {duckdb_type(item.type_name)})", item.type_name)

    # --- functions --------------------------------------------------------------------------------

    def call(self, node: fp.Call, focus: Expr) -> Expr:
        target = self.compile(node.target, focus) if node.target else focus
        handler = getattr(self, f"fn_{node.name}", None)
        if handler is None:
            raise self.fail(f"function {node.name}() is not in the SQL-on-FHIR FHIRPath subset")
        result: Expr = handler(target, node.args, focus)
        return result

    def fn_where(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        (condition,) = self.arity(args, 1, "where")
        if not target.many:
            test = self.boolean(self.compile(condition, target), "where()")
            return replace(target, sql=f"case when {test.sql} then {target.sql} end")
        item = self.var()
        test = self.boolean(self.compile(condition, replace(target, sql=item, many=False)), "where()")
        return replace(target, sql=f"list_filter({target.sql}, lambda {item}: {test.sql})")

    def fn_exists(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        if args:
            target = self.fn_where(target, args, focus)
        if target.many:
            return Expr(f"(len(coalesce({target.sql}, [])) > 0)", BOOLEAN_TYPE)
        return Expr(f"({target.sql} is not null)", BOOLEAN_TYPE)

    def fn_empty(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        self.arity(args, 0, "empty")
        return Expr(f"(not {self.fn_exists(target, (), focus).sql})", BOOLEAN_TYPE)

    def fn_first(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        self.arity(args, 0, "first")
        return self.single(target)

    def fn_not(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        self.arity(args, 0, "not")
        return Expr(f"(not {self.boolean(target, 'not()').sql})", BOOLEAN_TYPE)

    def fn_join(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        separator = self.single(self.compile(args[0], focus)).sql if args else "''"
        return Expr(f"array_to_string({self.as_list(target)}, {separator})", "string")

    def fn_ofType(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:  # noqa: N802 - FHIRPath name
        (type_node,) = self.arity(args, 1, "ofType")
        if not isinstance(type_node, fp.Member) or type_node.target is not None:
            raise self.fail("ofType() takes a type name")
        wanted = type_node.name.removeprefix("FHIR.").removeprefix("System.")
        if target.choice is not None:
            member = target.choice.choices.get(wanted.lower())
            if member is None:
                return Expr(f"cast(null as {duckdb_type(wanted)})", wanted, absent=True)
            return self.navigate(replace(target, choice=None), member)
        if target.type_name.lower() == wanted.lower():
            return target
        return Expr(f"cast(null as {duckdb_type(wanted)})", wanted, absent=True)

    def fn_extension(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:
        (url_node,) = self.arity(args, 1, "extension")
        url = self.single(self.compile(url_node, focus)).sql
        extensions = self.navigate(target, "extension")
        if extensions.absent:
            return extensions
        item = self.var()
        return replace(extensions, sql=f"list_filter({extensions.sql}, lambda {item}: "
                                       f"json_extract_string({item}, '$.url') = {url})")

    def fn_getResourceKey(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:  # noqa: N802
        self.arity(args, 0, "getResourceKey")
        return self.navigate(self.root, "id")

    def fn_getReferenceKey(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:  # noqa: N802
        if len(args) > 1 or (args and not isinstance(args[0], fp.Member)):
            raise self.fail("getReferenceKey() takes at most one resource type name")
        wanted = args[0].name if args and isinstance(args[0], fp.Member) else None
        reference = self.navigate(target, "reference")

        def key(item: Expr) -> Expr:
            if item.absent:
                return item
            last = f"regexp_extract({item.sql}, '([^/]+)$', 1)"
            if wanted is None:
                return Expr(last, "string")
            return Expr(f"case when split_part({item.sql}, '/', -2) = {_quote(wanted)} then {last} end", "string")

        return self.lift(reference, key)

    def fn_lowBoundary(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:  # noqa: N802
        return self.boundary(self.single(target), low=True)

    def fn_highBoundary(self, target: Expr, args: tuple[fp.Node, ...], focus: Expr) -> Expr:  # noqa: N802
        return self.boundary(self.single(target), low=False)

    def boundary(self, value: Expr, low: bool) -> Expr:
        from patient360.sql_on_fhir.boundaries import boundary_sql

        sql = boundary_sql(value.sql, value.type_name, low)
        if sql is None:
            raise self.fail(f"lowBoundary()/highBoundary() of a {value.type_name} is not supported")
        return Expr(sql, value.type_name, absent=value.absent)

    def arity(self, args: tuple[fp.Node, ...], count: int, name: str) -> tuple[fp.Node, ...]:
        if len(args) != count:
            raise self.fail(f"{name}() takes {count} argument(s), got {len(args)}")
        return args

    # --- operators --------------------------------------------------------------------------------

    def boolean(self, expr: Expr, context: str) -> Expr:
        expr = self.single(expr)
        if expr.type_name != BOOLEAN_TYPE:
            raise self.fail(f"{context} needs a boolean, the path gives {expr.type_name}")
        return expr

    def binary(self, node: fp.Binary, focus: Expr) -> Expr:
        left, right = self.compile(node.left, focus), self.compile(node.right, focus)
        if node.op in ("and", "or"):
            a, b = self.boolean(left, node.op), self.boolean(right, node.op)
            return Expr(f"({a.sql} {node.op} {b.sql})", BOOLEAN_TYPE)
        a, b = self.single(left), self.single(right)
        comparisons = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        if node.op in comparisons:
            return Expr(f"({a.sql} {comparisons[node.op]} {b.sql})", BOOLEAN_TYPE)
        if node.op in ("~", "!~"):
            negate = "not " if node.op == "!~" else ""
            return Expr(f"({negate}lower(cast({a.sql} as varchar)) = lower(cast({b.sql} as varchar)))", BOOLEAN_TYPE)
        if node.op == "&" or (node.op == "+" and a.type_name in STRING_TYPES):
            return Expr(f"(coalesce({a.sql}, '') || coalesce({b.sql}, ''))", "string")
        arithmetic = {"+": "+", "-": "-", "*": "*", "/": "/", "div": "//", "mod": "%"}
        if node.op in arithmetic:
            integral = a.type_name in INTEGER_TYPES and b.type_name in INTEGER_TYPES and node.op != "/"
            return Expr(f"({a.sql} {arithmetic[node.op]} {b.sql})", "integer" if integral else "decimal")
        raise self.fail(f"operator {node.op!r} is not supported")
