"""FHIRPath AST -> Redshift SQL expressions over SUPER (the HealthLake tables' nested columns).

A value is an ``RsExpr``: a scalar or SUPER value, or (``many``) a SUPER array. A path through several
arrays (``name.given``, ``contact.telecom.system``) is a *fan*: its items exist only inside the FROM clause
that unnests every array on the way (``r.name as f0 at f0_index, f0.given as f1 at f1_index``). A fan is
collapsed into one value by a scalar aggregate subquery over those nested arrays: LISTAGG for ``join()``
and ``first()``, COUNT for ``exists()``, a JSON array for ``collection: true`` columns. Redshift allows a
subquery over nested data outside FROM when it returns a single value, and EXISTS in a WHERE clause
(https://docs.aws.amazon.com/redshift/latest/dg/nested-data-restrictions.html). Every navigated value is
cast before use (https://docs.aws.amazon.com/redshift/latest/dg/query-super.html).

Extensions are arrays of JSON strings in the layout. The resource's own extensions are parsed once into a
SUPER array of objects (``p360_extension``, see ``redshift.py``) so ``extension(url)`` can unnest and
navigate them, nested extensions included; their FHIR keys are camelCase, which SUPER navigation matches
with the default ``enable_case_sensitive_super_attribute = false``
(https://docs.aws.amazon.com/redshift/latest/dg/r_enable_case_sensitive_super_attribute.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Protocol

from patient360.sql_on_fhir import fhirpath as fp
from patient360.sql_on_fhir import schema
from patient360.sql_on_fhir.boundaries import boundary_sql
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.expressions import BOOLEAN_TYPE, INTEGER_TYPES, STRING_TYPES
from patient360.sql_on_fhir.viewdef import View

# FHIR strings cannot hold control characters below 32 other than tab, CR and LF
# (https://hl7.org/fhir/R4/datatypes.html#string): the unit separator never occurs inside a value.
SEPARATOR = "chr(31)"
ROOT_EXTENSIONS = "p360_extension"
_SUBSCRIPTED = re.compile(
    r'^(?P<base>[a-z_][a-z0-9_]*(?:\.(?:[a-z0-9_]+|"[a-z0-9_]+"))*)\[(?P<index>\d+)\](?P<rest>.*)$')
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
    return "varchar(65535)"  # a bare VARCHAR is 256 bytes (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html)


def quote(text: str) -> str:
    # Redshift string literals process backslashes: double them as well as the quotes.
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def name_sql(name: str) -> str:
    """An identifier, quoted only when it must be (reserved, or not lowercase: Redshift folds case)."""
    plain = name.isidentifier() and name.isascii() and name == name.lower()
    return name if plain and name not in _RESERVED else f'"{name}"'


@dataclass(frozen=True)
class Fan:
    """The FROM items that unnest every array on a path, the items' order, and the kept items' tests."""

    froms: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    def hop(self, array_sql: str, alias: str) -> Fan:
        return Fan((*self.froms, f"{array_sql} as {alias} at {alias}_index"), (*self.order, f"{alias}_index"),
                   self.conditions)

    def keep(self, condition: str) -> Fan:
        return replace(self, conditions=(*self.conditions, condition))

    def subquery(self, select: str) -> str:
        where = " where " + " and ".join(self.conditions) if self.conditions else ""
        return f"(select {select} from {', '.join(self.froms)}{where})"

    def ordered(self) -> str:
        return f"within group (order by {', '.join(self.order)})"


@dataclass(frozen=True)
class RsExpr:
    sql: str
    type_name: str
    many: bool = False  # sql is a SUPER array
    primitive: bool = False
    choice: schema.Element | None = None  # a value[x] awaiting ofType(); sql is then its parent
    fan: Fan | None = None  # sql is an item, valid only inside the fan's FROM
    raw: str | None = None  # a primitive's SUPER value before its cast (JSON serialisation, null tests)
    json: bool = False  # a parsed extension object: its own extensions are objects, not JSON strings
    scope: tuple[str, ...] = ()  # a forEach item: the FROM items from the resource down to it (repeat seeds)
    keys: tuple[str, ...] = ()  # ... and what tells its rows apart (the resource id, the unnesting indexes)


class Compiler(Protocol):
    """What expressions need of the view compiler (``redshift.RedshiftCompiler``)."""

    view: View
    root: RsExpr
    parse_root_extensions: bool

    def alias(self, prefix: str) -> str: ...

    def fail(self, where: str, reason: str) -> ViewDefinitionError: ...


@dataclass
class RsExpressions:
    owner: Compiler
    where: str
    row_index: str
    in_where: bool = False  # a view-level where: EXISTS over nested data is allowed there
    hops: list[str] | None = None  # a forEach source: arrays crossed on the way, unnested in the FROM
    in_filter: bool = False  # compiling a where() over nested items: the subquery may use its parent only in FROM

    def fail(self, reason: str) -> ViewDefinitionError:
        return self.owner.fail(self.where, reason)

    def alias(self, prefix: str) -> str:
        return self.owner.alias(prefix)

    def compile(self, node: fp.Node, focus: RsExpr) -> RsExpr:
        if isinstance(node, fp.Literal):
            return self.literal(node.value)
        if isinstance(node, fp.Constant):
            if node.name == "rowIndex":
                self.outside_the_filter("%rowIndex")
                return RsExpr(self.row_index, "integer", primitive=True)
            if node.name not in self.owner.view.constants:
                raise self.fail(f"undefined constant %{node.name}")
            return self.literal(self.owner.view.constants[node.name])
        if isinstance(node, fp.This):
            return focus
        if isinstance(node, fp.Member):
            return self.navigate(self.compile(node.target, focus) if node.target else focus, node.name)
        if isinstance(node, fp.Index):
            return self.index(self.compile(node.target, focus), self.single(self.compile(node.index, focus)))
        if isinstance(node, fp.Call):
            return self.call(node, focus)
        if isinstance(node, fp.Negate):
            return RsExpr(f"(-{self.single(self.compile(node.operand, focus)).sql})", "decimal", primitive=True)
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
        return RsExpr(quote(value), "string", primitive=True)

    # --- navigation -------------------------------------------------------------------------------

    def spread(self, expr: RsExpr) -> RsExpr:
        """An array's items as a fan: one more array unnested in the fan's FROM."""
        fan, array = expr.fan or Fan(), expr.sql
        while match := _SUBSCRIPTED.match(array):  # FROM takes plain paths: a subscript is a hop kept at its index
            outer = self.alias("g")
            fan = fan.hop(match["base"], outer).keep(f"{outer}_index = {match['index']}")
            array = outer + match["rest"]
        if "[" in array or "(" in array:
            raise self.fail(f"cannot unnest {array} on Redshift: use forEach over the list instead")
        alias = self.alias("f")
        fan = fan.hop(array, alias)
        sql = f"cast({alias} as {redshift_type(expr.type_name)})" if expr.primitive else alias
        return RsExpr(sql, expr.type_name, primitive=expr.primitive, fan=fan, raw=alias, json=expr.json)

    def navigate(self, expr: RsExpr, name: str) -> RsExpr:
        if expr.choice is not None:
            raise self.fail(f"choice element {expr.choice.name}[x] needs ofType() before .{name}")
        if expr.type_name == "ExtensionJson":
            raise self.fail(f".{name} on an extension's JSON text: use extension(url) on the resource, or "
                            "forEach and JSON functions in SQL")
        if expr.many and self.hops is not None and expr.fan is None:
            alias = self.alias("h")
            self.hops.append(f"{expr.sql} as {alias}")
            expr = RsExpr(alias, expr.type_name, json=expr.json)
        if expr.many:
            expr = self.spread(expr)
        element = schema.element(expr.type_name, name)
        if element is None:
            raise self.fail(f"unknown element {name!r} on {expr.type_name}")
        if element.type_name == "choice":
            return replace(expr, choice=element)
        sql = f"{expr.sql}.{name_sql(element.name.lower())}"
        if element.type_name == "Extension":
            if not expr.json:  # arrays of JSON strings: usable whole (forEach, $this) or through extension()
                return RsExpr(sql, "ExtensionJson", many=True, primitive=True, fan=expr.fan)
            return RsExpr(sql, "Extension", many=True, fan=expr.fan, json=True)
        if element.primitive and not element.many:
            return RsExpr(f"cast({sql} as {redshift_type(element.type_name)})", element.type_name, primitive=True,
                          fan=expr.fan, raw=sql, json=expr.json)
        return RsExpr(sql, element.type_name, many=element.many, primitive=element.primitive, fan=expr.fan,
                      json=expr.json)

    def index(self, expr: RsExpr, position: RsExpr) -> RsExpr:
        if expr.fan is not None:
            return self.fan_item(self.spread(expr) if expr.many else expr, position.sql)
        if not expr.many:
            return RsExpr(f"case when {position.sql} = 0 then {expr.sql} end", expr.type_name, primitive=expr.primitive)
        return self.item(expr, position.sql)

    def item(self, expr: RsExpr, position: str) -> RsExpr:
        sql = f"{expr.sql}[{position}]"
        if expr.primitive:
            return RsExpr(f"cast({sql} as {redshift_type(expr.type_name)})", expr.type_name, primitive=True, raw=sql)
        return RsExpr(sql, expr.type_name, primitive=expr.primitive, json=expr.json)

    # --- collections ------------------------------------------------------------------------------

    def single(self, expr: RsExpr) -> RsExpr:
        """The first item (FHIRPath singleton evaluation)."""
        if expr.choice is not None:
            raise self.fail(f"choice element {expr.choice.name}[x] needs ofType()")
        if expr.many and expr.fan is None:
            return self.item(expr, "0")
        if expr.many:
            expr = self.spread(expr)
        return self.fan_item(expr, "0") if expr.fan is not None else expr

    def fan_item(self, expr: RsExpr, position: str) -> RsExpr:
        """Item ``position`` (0-based) of a fan of primitives: the values joined in order by a separator no
        FHIR value holds, then split."""
        assert expr.fan is not None
        if not expr.primitive:
            raise self.fail("a single structure out of several lists cannot be picked on Redshift; use forEach "
                            "over the outer list, or first() on a primitive value")
        text = self.text(expr)
        joined = expr.fan.keep(f"{expr.raw} is not null").subquery(
            f"listagg({text}, {SEPARATOR}) {expr.fan.ordered()}")
        value = f"nullif(split_part({joined}, {SEPARATOR}, ({position}) + 1), '')"
        if redshift_type(expr.type_name).startswith("varchar"):
            return RsExpr(value, expr.type_name, primitive=True)
        return RsExpr(f"cast({value} as {redshift_type(expr.type_name)})", expr.type_name, primitive=True)

    def text(self, expr: RsExpr) -> str:
        """A primitive item as text: strings cast, numbers and booleans serialised as JSON."""
        if redshift_type(expr.type_name).startswith("varchar"):
            return f"cast({expr.raw} as varchar(65535))"
        return f"json_serialize({expr.raw})"

    def as_array(self, expr: RsExpr) -> str:
        """A SUPER array of the collection's items (a ``collection: true`` column)."""
        if expr.fan is None and not expr.many:
            return f"array({expr.sql})"
        if expr.fan is None:
            return f"cast({expr.sql} as super)"
        if expr.many:
            expr = self.spread(expr)
        assert expr.fan is not None
        item = expr.raw or expr.sql
        listed = expr.fan.keep(f"{item} is not null").subquery(
            f"listagg(json_serialize({item}), ',') {expr.fan.ordered()}")
        return f"json_parse('[' || coalesce({listed}, '') || ']')"

    def only_value(self, expr: RsExpr, column: str) -> str:
        """A column's one value; a resource giving several fails the query naming the column (as on DuckDB)."""
        if expr.many:
            expr = self.spread(expr)
        assert expr.fan is not None
        if not expr.primitive:
            raise self.fail(f"column {column!r} gives structures out of several lists; declare a primitive path")
        target = redshift_type(expr.type_name)
        value = f"bool_or({expr.sql})" if target == "boolean" else f"max({expr.sql})"
        message = quote(f"ViewDefinition {self.owner.view.name!r}: column {column!r} gave several values: ")
        # a cast that fails on the message itself: Redshift has no raise() in a query
        failure = f"cast(cast({message} || cast(count(*) as varchar(12)) as integer) as {target})"
        kept = expr.fan.keep(f"{expr.raw} is not null")
        return kept.subquery(f"case when count(*) > 1 then {failure} else {value} end")

    def exists(self, expr: RsExpr, negate: bool) -> RsExpr:
        if expr.many and expr.fan is not None:  # an array per item: its items, or an empty array would count
            expr = self.spread(expr)
        if expr.fan is None:
            test = (f"coalesce(get_array_length({expr.sql}), 0) > 0" if expr.many else f"{expr.sql} is not null")
            return RsExpr(f"({'not ' if negate else ''}{test})", BOOLEAN_TYPE, primitive=True)
        kept = expr.fan.keep(f"{expr.raw or expr.sql} is not null")
        if self.in_where:  # the one form over nested data allowed to return several rows
            return RsExpr(f"({'not ' if negate else ''}exists {kept.subquery('1')})", BOOLEAN_TYPE, primitive=True)
        return RsExpr(f"({kept.subquery('count(*)')} {'=' if negate else '>'} 0)", BOOLEAN_TYPE, primitive=True)

    def where_items(self, target: RsExpr, condition: fp.Node) -> RsExpr:
        if not target.many and target.fan is None:
            kept = self.compile(condition, target)
            return replace(target, sql=f"case when {kept.sql} then {target.sql} end")
        items = self.spread(target) if target.many else target
        assert items.fan is not None
        inner = replace(self, in_filter=True)  # evaluated per item, inside the fan's subquery
        test = inner.compile(condition, replace(items, fan=None))
        if test.fan is not None or test.many:
            test = self.single(test)
        return replace(items, fan=items.fan.keep(f"coalesce({test.sql}, false)"))

    def outside_the_filter(self, what: str) -> None:
        """A subquery over nested data may name its parent only in its FROM clause
        (https://docs.aws.amazon.com/redshift/latest/dg/nested-data-restrictions.html)."""
        if self.in_filter:
            raise self.fail(f"{what} inside a where() over a nested list: Redshift lets that subquery use the "
                            "resource only in its FROM; filter with forEach instead")

    # --- functions --------------------------------------------------------------------------------

    def call(self, node: fp.Call, focus: RsExpr) -> RsExpr:
        target = self.compile(node.target, focus) if node.target else focus
        name, args = node.name, node.args
        if name in ("where", "exists", "empty"):
            return self.filtering(name, target, args)
        if name == "first" and not args:
            return self.single(target)
        if name == "not":
            return RsExpr(f"(not {self.single(target).sql})", BOOLEAN_TYPE, primitive=True)
        if name in ("join", "extension"):
            return self.join(target, args, focus) if name == "join" else self.extension(target, args, focus)
        if name == "ofType":
            return self.of_type(target, args)
        if name == "getResourceKey":
            self.outside_the_filter("getResourceKey()")
            return self.navigate(self.owner.root, "id")
        if name == "getReferenceKey":
            return self.reference_key(target, args)
        if name in ("lowBoundary", "highBoundary"):
            return self.boundary(self.single(target), low=name == "lowBoundary")
        raise self.fail(f"{name}() is not in the SQL-on-FHIR FHIRPath subset (Redshift)")

    def filtering(self, name: str, target: RsExpr, args: tuple[fp.Node, ...]) -> RsExpr:
        if name == "where":
            if len(args) != 1:
                raise self.fail("where() takes one condition")
            return self.where_items(target, args[0])
        items = self.where_items(target, args[0]) if args else target
        return self.exists(items, negate=name == "empty")

    def boundary(self, value: RsExpr, low: bool) -> RsExpr:
        sql = boundary_sql(value.sql, value.type_name, low, dialect="redshift")
        if sql is None:
            raise self.fail(f"lowBoundary()/highBoundary() of a {value.type_name} is not supported")
        return RsExpr(sql, value.type_name, primitive=True)

    def join(self, target: RsExpr, args: tuple[fp.Node, ...], focus: RsExpr) -> RsExpr:
        separator = self.single(self.compile(args[0], focus)).sql if args else "''"
        if not target.many and target.fan is None:
            return RsExpr(f"coalesce({target.sql}, '')", "string", primitive=True)
        items = self.spread(target) if target.many else target
        assert items.fan is not None
        kept = items.fan.keep(f"{items.raw} is not null")
        joined = kept.subquery(f"listagg({self.text(items)}, {separator}) {items.fan.ordered()}")
        return RsExpr(f"coalesce({joined}, '')", "string", primitive=True)

    def extension(self, target: RsExpr, args: tuple[fp.Node, ...], focus: RsExpr) -> RsExpr:
        """``extension(url)``: the resource's own extensions (parsed once) or a parsed extension's nested ones."""
        if len(args) != 1:
            raise self.fail("extension() takes one url")
        url = self.single(self.compile(args[0], focus)).sql
        if target.sql == self.owner.root.sql and target.fan is None:
            self.owner.parse_root_extensions = True
            extensions = RsExpr(f"{target.sql}.{ROOT_EXTENSIONS}", "Extension", many=True, json=True)
        elif target.json:
            extensions = self.navigate(target, "extension")
        else:
            raise self.fail("extension() below the resource: its extensions are JSON strings Redshift cannot "
                            "unnest; use forEach over them and JSON functions in SQL")
        items = self.spread(extensions)
        assert items.fan is not None
        return replace(items, fan=items.fan.keep(f"cast({items.sql}.url as varchar(65535)) = {url}"))

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
        """The referenced id, per item (a fan stays a fan: the caller collapses it)."""
        if target.many and target.fan is None and self.hops is None:
            target = self.spread(target)
        elif target.many:
            target = self.single(target)
        reference = self.navigate(target, "reference").sql
        key = f"regexp_substr({reference}, '[^/]+$')"  # the last segment: relative or absolute references
        if args and isinstance(args[0], fp.Member):
            resource_type = f"regexp_substr({reference}, '([^/]+)/[^/]+$', 1, 1, 'e')"
            key = f"case when {resource_type} = {quote(args[0].name)} then {key} end"
        return RsExpr(key, "string", primitive=True, fan=target.fan, raw=key if target.fan else None)

    # --- operators --------------------------------------------------------------------------------

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
