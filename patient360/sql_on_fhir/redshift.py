"""A ViewDefinition -> Redshift SQL over the HealthLake tables (nested columns are SUPER).

Shape: one ``select`` per unionAll branch, joined with ``union all``. ``forEach`` is PartiQL unnesting
in the FROM clause (``r.name as i0 at i0_index``; the AT index is %rowIndex); ``forEachOrNull`` adds a
branch for resources whose array is empty. Every navigated value is cast before use (SUPER values are
compared, joined and returned typed), strings as VARCHAR(65535) since a bare VARCHAR is 256 bytes.
(https://docs.aws.amazon.com/redshift/latest/dg/query-super.html,
https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html)

Paths through several arrays, ``join()``, ``exists()`` and ``extension()`` are compiled in
``redshift_expressions.py`` (scalar aggregate subqueries over the nested arrays); ``repeat`` is a recursive
CTE over the SUPER items (``redshift_repeat.py``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from patient360.sql_on_fhir import fhirpath as fp
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.expressions import BOOLEAN_TYPE
from patient360.sql_on_fhir.redshift_expressions import (
    ROOT_EXTENSIONS,
    RsExpr,
    RsExpressions,
    name_sql,
    redshift_type,
)
from patient360.sql_on_fhir.redshift_repeat import item_type, members, repeat_ctes
from patient360.sql_on_fhir.viewdef import Column, Path, Select, View, output_columns


@dataclass
class Branch:
    froms: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)


class RedshiftCompiler:
    def __init__(self, view: View) -> None:
        self.view = view
        self.root = RsExpr("r", view.resource, keys=("cast(r.id as varchar(64))",))
        self.table = ""
        self._names = itertools.count()
        self.parse_root_extensions = False  # set when a path calls extension() on the resource
        self.ctes: list[str] = []  # common table expressions the branches need (repeat)

    def fail(self, where: str, reason: str) -> ViewDefinitionError:
        return ViewDefinitionError(self.view.name, where, f"{reason} (Redshift)")

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def compile(self, table: str) -> str:
        conditions = [test for path in self.view.where for test in self.conditions(path)]
        queries = []
        self.table = table
        branches = self.branches(self.view.root, self.root, "0")
        source = "resources" if self.parse_root_extensions else table
        for branch in branches:
            columns = ",\n    ".join(f"{sql} as {name_sql(name)}" for name, sql in branch.columns)
            sources = ",\n    ".join([f"{source} as r", *branch.froms])
            tests = conditions + branch.conditions
            where = "\nwhere\n    " + "\n    and ".join(tests) if tests else ""
            queries.append(f"select\n    {columns}\nfrom\n    {sources}{where}\n")
        ctes = ([self.parsed_extensions(table)] if self.parse_root_extensions else []) + self.ctes
        with_clause = f"with{' recursive' if self.ctes else ''} " + ",\n\n".join(ctes) + "\n\n" if ctes else ""
        return with_clause + "\nunion all\n\n".join(queries)

    @staticmethod
    def parsed_extensions(table: str) -> str:
        """The resource's extensions (JSON strings in the layout) parsed once into a SUPER array of objects."""
        joined = "listagg(cast(e as varchar(65535)), ',') within group (order by e_index)"
        return (
            f"resources as (\n    select\n        r.*,\n"
            f"        (select json_parse('[' || coalesce({joined}, '') || ']') from r.extension as e at e_index)"
            f" as {ROOT_EXTENSIONS}\n    from {table} as r\n)"
        )

    def conditions(self, path: Path) -> list[str]:
        """A view-level where, one test per top-level ``and`` term. EXISTS over nested data is allowed only as
        a WHERE predicate (nested-data-restrictions.html): a term that is itself exists()/empty() gets it, any
        other collection test counts its items."""
        terms: list[fp.Node] = []
        node = path.node
        while isinstance(node, fp.Binary) and node.op == "and":
            terms.insert(0, node.right)
            node = node.left
        terms.insert(0, node)
        tests = []
        for term in terms:
            bare = isinstance(term, fp.Call) and term.name in ("exists", "empty")
            test = self.expr(path, term, self.root, "0", in_where=bare)
            if test.type_name != BOOLEAN_TYPE:
                raise self.fail(path.where, f"a view-level where needs a boolean, the path gives {test.type_name}")
            tests.append(test.sql if bare else f"coalesce({test.sql}, false)")
        return tests

    # --- selects ----------------------------------------------------------------------------------

    def branches(self, select: Select, focus: RsExpr, row_index: str) -> list[Branch]:
        if select.repeat:
            return self.repeat(select, focus)
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
        if items.fan is not None:
            return self.for_fan(select, body, items, hops, condition, path, focus)
        if not items.many:
            item = replace(items, scope=(*focus.scope, *hops), keys=focus.keys)
            return self.for_single(select, body, item, hops, condition, path)
        alias = f"i{next(self._names)}"
        array = items.sql
        item_sql = f"cast({alias} as {redshift_type(items.type_name)})" if items.primitive else alias
        unnest = f"{array} as {alias} at {alias}_index"
        item = RsExpr(item_sql, items.type_name, primitive=items.primitive, scope=(*focus.scope, *hops, unnest),
                      keys=(*focus.keys, f"{alias}_index") if focus.keys else ())
        inner = self.branches(body, item, f"{alias}_index")
        test = self.expr(path, condition, item, "0").sql if condition is not None else None
        for branch in inner:
            if hops and any(f"{alias}_index" in sql for _, sql in branch.columns):
                raise self.fail(path.where, "%rowIndex over a path through several arrays is not supported")
            branch.froms[:0] = [*hops, unnest]
            if test:
                branch.conditions.insert(0, f"coalesce({test}, false)")
        if not select.or_null:
            return inner
        if test:
            raise self.fail(path.where, "forEachOrNull over a where() is not supported")
        return inner + self.empty_rows(body, items)

    def empty_rows(self, body: Select, items: RsExpr) -> list[Branch]:
        """forEachOrNull: the row of a resource whose array is empty. Unnesting below a missing item gives no
        rows: only the branches without their own FROM remain."""
        array = items.sql
        first = f"cast({array}[0] as {redshift_type(items.type_name)})" if items.primitive else f"{array}[0]"
        empty_focus = RsExpr(first, items.type_name, primitive=items.primitive)
        empty = [b for b in self.branches(body, empty_focus, "0") if not b.froms]
        for branch in empty:
            branch.conditions.insert(0, f"coalesce(get_array_length({array}), 0) = 0")
        return empty

    def repeat(self, select: Select, focus: RsExpr) -> list[Branch]:
        """Rows for every item the repeat paths reach, depth first (``redshift_repeat.py``)."""
        chains = [members(path, self) for path in select.repeat]
        body = replace(select, repeat=())
        reached = item_type(focus.type_name, chains)
        if reached is None:  # no path exists on this type: no rows, the columns typed
            nulls = [(c.name, "cast(null as super)" if c.collection else f"cast(null as {redshift_type(c.type)})")
                     for c in output_columns(body)]
            return [Branch(conditions=["false"], columns=nulls)]
        if not focus.keys:
            raise self.fail(select.where, "repeat inside a repeat is not supported on Redshift")
        ctes, items = repeat_ctes(self.alias("repeat_"), self.table, focus, chains)
        self.ctes.append(ctes)
        alias = self.alias("q")
        item = RsExpr(f"{alias}.node", reached)
        branches = self.branches(body, item, f"{alias}.item_index")
        for branch in branches:
            branch.froms.insert(0, f"{items} as {alias}")
            branch.conditions[:0] = [f"{alias}.k{i} = {key}" for i, key in enumerate(focus.keys)]
        return branches

    def for_fan(
        self, select: Select, body: Select, items: RsExpr, hops: list[str], condition: fp.Node | None, path: Path,
        focus: RsExpr,
    ) -> list[Branch]:
        """forEach over items the expressions unnested themselves (``extension(url)``, ``x.where(c).y``): the
        fan's FROM items and tests join the branch."""
        if items.many:
            items = RsExpressions(self, path.where, "0").spread(items)
        assert items.fan is not None
        if select.or_null:
            raise self.fail(path.where, "forEachOrNull over a filtered path or extension() is not supported")
        index = items.fan.order[-1]
        item = replace(items, fan=None, scope=(*focus.scope, *hops, *items.fan.froms),
                       keys=(*focus.keys, *items.fan.order) if focus.keys else ())
        inner = self.branches(body, item, index)
        test = self.expr(path, condition, item, "0").sql if condition is not None else None
        for branch in inner:
            if (items.fan.conditions or len(items.fan.froms) > 1) and any(index in sql for _, sql in branch.columns):
                raise self.fail(path.where, "%rowIndex over a filtered path is not supported")
            branch.froms[:0] = [*hops, *items.fan.froms]
            branch.conditions[:0] = [*items.fan.conditions, *([f"coalesce({test}, false)"] if test else [])]
        return inner

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
        expressions = RsExpressions(self, column.path.where, row_index)
        value = expressions.compile(column.path.node, focus)
        if value.choice is not None:
            raise self.fail(column.path.where, f"choice element {value.choice.name}[x] needs ofType()")
        if column.collection:
            # a SUPER array, like a JSON list; the explicit cast says it stays SUPER on purpose (the rules ask
            # every navigated value to be cast to what it is used as)
            return expressions.as_array(value)
        if value.many or value.fan is not None:
            if column.collection is False:
                raise self.fail(column.path.where, f"column {column.name!r} says collection: false but its path "
                                "can give several values; use first(), an index, or 'collection: true'")
            return expressions.only_value(value, column.name)
        if column.type and value.primitive and redshift_type(column.type) != redshift_type(value.type_name):
            return f"cast({value.sql} as {redshift_type(column.type)})"
        return value.sql

    # --- expressions ------------------------------------------------------------------------------

    def expr(
        self, path: Path, node: fp.Node, focus: RsExpr, row_index: str, keep_many: bool = False,
        in_where: bool = False, hops: list[str] | None = None,
    ) -> RsExpr:
        expressions = RsExpressions(self, path.where, row_index, in_where, hops)
        result = expressions.compile(node, focus)
        if not keep_many and (result.many or result.fan is not None):
            result = expressions.single(result)
        return result
