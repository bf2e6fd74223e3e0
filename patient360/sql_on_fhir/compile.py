"""A ViewDefinition -> one SQL query, for DuckDB (this module) or Redshift (``redshift.py``).

DuckDB: each select becomes a LIST of row STRUCTs computed per resource (columns, nested selects as a
cross product, ``forEach`` as ``list_transform`` over the items, ``unionAll`` as ``list_concat``,
``repeat`` unrolled as deep as the table's nested type goes), and the query unnests that list. The
column ``type`` is an explicit cast; ``collection: true`` columns are lists.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from patient360.sql_on_fhir import schema
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.expressions import BOOLEAN_TYPE, Expr, ExprCompiler, _quote, duckdb_type
from patient360.sql_on_fhir.viewdef import Column, Path, Select, View, output_columns, parse_view

Rows = tuple[str, tuple[str, ...]]  # SQL of a LIST(STRUCT) and its column names, in order


def plain_columns(select: Select) -> list[Column] | None:
    """The columns when the view is one row per resource (no forEach, repeat or unionAll), else None."""
    if select.for_each or select.repeat or select.union_all:
        return None
    columns = list(select.columns)
    for child in select.selects:
        below = plain_columns(child)
        if below is None:
            return None
        columns += below
    return columns


class DuckDBCompiler:
    def __init__(self, view: View, physical: schema.Physical | None, strict: bool = False) -> None:
        self.view, self.strict = view, strict
        self.root = Expr("r", view.resource, physical=physical or schema.Physical("row", fields={}))
        self._names = itertools.count()

    def expressions(self, path: Path, row_index: str) -> ExprCompiler:
        return ExprCompiler(
            self.view.name, path.where, self.view.constants, self.root, row_index, self._names, self.strict
        )

    def var(self) -> str:
        return f"s{next(self._names)}"

    def compile(self, table: str) -> str:
        conditions = [self.condition(path) for path in self.view.where]
        where = "\nwhere\n    " + "\n    and ".join(conditions) if conditions else ""
        columns = plain_columns(self.view.root)
        if columns is not None:  # one row per resource: a plain select, no list of rows to unnest
            self.check_unique(columns)
            values = [f'{self.column_value(c, self.root, "0")} as "{c.name}"' for c in columns]
            return f"select\n    {(','+chr(10)+'    ').join(values)}\nfrom {table} as r{where}\n"
        rows, names = self.rows(self.view.root, self.root, "0")
        selected = ",\n    ".join(f'view_row."{name}" as "{name}"' for name in names)
        return (
            f"with view_rows as (\n    select unnest({rows}) as view_row\n    from {table} as r{where}\n)\n\n"
            f"select\n    {selected}\nfrom view_rows\n"
        )

    def check_unique(self, columns: list[Column]) -> None:
        seen: set[str] = set()
        for column in columns:
            if column.name in seen:
                where = column.path.where.rsplit(".column", 1)[0]
                raise ViewDefinitionError(self.view.name, where, f"duplicate column name {column.name!r}")
            seen.add(column.name)

    def condition(self, path: Path) -> str:
        expressions = self.expressions(path, "0")
        test = expressions.boolean(expressions.compile(path.node, self.root), "a view-level where")
        return f"coalesce({test.sql}, false)"

    # --- selects ----------------------------------------------------------------------------------

    def rows(self, select: Select, focus: Expr, row_index: str) -> Rows:
        if select.for_each is not None:
            return self.for_each(select, select.for_each, focus)
        if select.repeat:
            return self.repeat(select, focus, row_index)
        parts: list[Rows] = []
        if select.columns:
            parts.append(self.columns(select.columns, focus, row_index))
        parts += [self.rows(child, focus, row_index) for child in select.selects]
        if select.union_all:
            parts.append(self.union_all(select, focus, row_index))
        return self.product(select, parts)

    def columns(self, columns: tuple[Column, ...], focus: Expr, row_index: str) -> Rows:
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            where = columns[0].path.where.rsplit(".column", 1)[0]
            raise ViewDefinitionError(self.view.name, where, f"duplicate column name(s) in {names}")
        values = ", ".join(f"'{c.name}': {self.column_value(c, focus, row_index)}" for c in columns)
        return f"[{{{values}}}]", tuple(c.name for c in columns)

    def column_value(self, column: Column, focus: Expr, row_index: str) -> str:
        expressions = self.expressions(column.path, row_index)
        value = expressions.compile(column.path.node, focus)
        if value.choice is not None:
            raise expressions.fail(f"choice element {value.choice.name}[x] needs ofType()")
        cast = duckdb_type(column.type) if column.type else None
        if column.collection:
            listed = expressions.as_list(value)
            return f"cast({listed} as {cast}[])" if cast and value.physical is None or value.json else listed
        if value.many and column.collection is False:
            raise expressions.fail(
                f"column {column.name!r} says collection: false but its path can give several values; use "
                "first(), an index, or 'collection: true'"
            )
        if value.many:  # unsaid: a resource with several values is an error when the query runs
            message = _quote(f"ViewDefinition {self.view.name!r}: column {column.name!r} ({column.path.text}) "
                             "gave several values; declare it 'collection: true'")
            value = replace(value, sql=f"case when len({value.sql}) > 1 then error({message}) "
                                       f"else ({value.sql})[1] end", many=False)
        if value.absent and cast:
            return f"cast(null as {cast})"
        if cast and (value.physical is None or not (value.physical.fields or value.physical.item)):
            return f"cast({value.sql} as {cast})"
        return value.sql

    def product(self, select: Select, parts: list[Rows]) -> Rows:
        if not parts:
            raise ViewDefinitionError(self.view.name, select.where, "nothing to select")
        rows, names = parts[0]
        for other, other_names in parts[1:]:
            clash = set(names) & set(other_names)
            if clash:
                raise ViewDefinitionError(self.view.name, select.where, f"duplicate column name(s) {sorted(clash)}")
            a, b = self.var(), self.var()
            fields = [f"'{n}': {a}.\"{n}\"" for n in names] + [f"'{n}': {b}.\"{n}\"" for n in other_names]
            pairs = f"list_transform({other}, lambda {b}: {{{', '.join(fields)}}})"
            rows = f"flatten(list_transform({rows}, lambda {a}: {pairs}))"
            names += other_names
        return rows, names

    def union_all(self, select: Select, focus: Expr, row_index: str) -> Rows:
        branches = [self.rows(branch, focus, row_index) for branch in select.union_all]
        names = branches[0][1]
        for branch, (_, branch_names) in zip(select.union_all, branches, strict=True):
            if branch_names != names:
                raise ViewDefinitionError(
                    self.view.name, branch.where,
                    f"unionAll branches must have the same columns in the same order: {list(branch_names)} "
                    f"vs {list(names)}",
                )
        return f"list_concat({', '.join(rows for rows, _ in branches)})", names

    def items(self, path: Path, focus: Expr) -> tuple[Expr, str]:
        expressions = self.expressions(path, "0")
        items = expressions.compile(path.node, focus)
        if items.choice is not None or items.type_name == BOOLEAN_TYPE and items.physical is None and not items.absent:
            raise expressions.fail("forEach/repeat needs a path to elements")
        return items, expressions.as_list(items)

    def for_each(self, select: Select, path: Path, focus: Expr) -> Rows:
        items, listed = self.items(path, focus)
        body = replace(select, for_each=None, or_null=False)
        if items.absent:  # FHIR knows the element, the table has no such column: no items
            rows, names = self.rows(body, items, "0")
            return (rows if select.or_null else f"list_filter({rows}, lambda {self.var()}: false)"), names
        item, index = self.var(), self.var()
        rows, names = self.rows(body, replace(items, sql=item, many=False), f"({index} - 1)")
        each = f"flatten(list_transform({listed}, lambda {item}, {index}: {rows}))"
        if not select.or_null:
            return each, names
        null_rows, _ = self.rows(body, replace(items, sql=f"({listed})[1]", many=False), "0")
        return f"case when len({listed}) > 0 then {each} else {null_rows} end", names

    def repeat(self, select: Select, focus: Expr, row_index: str) -> Rows:
        body = replace(select, repeat=())
        for path in select.repeat:
            self.check_repeat_path(path, focus)
        descendants = self.descendants(select, body, focus)
        if descendants is not None:
            return descendants
        return self.no_rows(body)

    def no_rows(self, select: Select) -> Rows:
        """An empty list of the select's row type (repeat paths that reach nothing)."""
        columns = output_columns(select)
        fields = ", ".join(
            f"'{c.name}': cast([] as {duckdb_type(c.type)}[])" if c.collection
            else f"'{c.name}': cast(null as {duckdb_type(c.type)})"
            for c in columns
        )
        return f"list_filter([{{{fields}}}], lambda {self.var()}: false)", tuple(c.name for c in columns)

    def check_repeat_path(self, path: Path, focus: Expr) -> None:
        """A repeat path must at least be FHIRPath the compiler knows (unknown elements are allowed:
        the path applies to every level, and levels differ)."""
        try:
            self.items(path, focus)
        except ViewDefinitionError as exc:
            if "unknown element" not in exc.reason:
                raise

    def reachable(self, select: Select, focus: Expr) -> list[tuple[Expr, str]]:
        """Per repeat path, the items it reaches from ``focus`` (and their list SQL); paths the focus' type
        lacks give nothing at that level."""
        found = []
        for path in select.repeat:
            try:
                items, listed = self.items(path, focus)
            except ViewDefinitionError:
                continue  # repeat paths apply to every level; one a level's type lacks gives nothing there
            if not items.absent:
                found.append((items, listed))
        return found

    def subtree_size(self, select: Select, focus: Expr) -> str:
        """SQL: how many items the repeat reaches below ``focus`` (for %rowIndex, the depth-first position)."""
        terms = []
        for items, listed in self.reachable(select, focus):
            item = self.var()
            below = self.subtree_size(select, replace(items, sql=item, many=False))
            terms.append(f"coalesce(list_sum(list_transform({listed}, lambda {item}: 1 + {below})), 0)")
        return " + ".join(terms) if terms else "0"

    def descendants(self, select: Select, body: Select, focus: Expr, position: str = "-1") -> Rows | None:
        """Rows of every item reachable through the repeat paths, depth first, %rowIndex the item's position
        in that order; None when there are none. The recursion ends where the table's nested type ends (the
        deepest level any resource has)."""
        parts: list[Rows] = []
        preceding = "0"  # items of the earlier paths' subtrees
        for items, listed in self.reachable(select, focus):
            item, index, earlier = self.var(), self.var(), self.var()
            item_focus = replace(items, sql=item, many=False)
            earlier_size = self.subtree_size(select, replace(items, sql=earlier, many=False))
            before = (f"coalesce(list_sum(list_transform(list_slice({listed}, 1, {index} - 1), "
                      f"lambda {earlier}: 1 + {earlier_size})), 0)")
            own_position = f"({position} + 1 + {preceding} + {before})"
            own = self.rows(body, item_focus, own_position)
            below = self.descendants(select, body, item_focus, own_position)
            rows = f"list_concat({own[0]}, {below[0]})" if below else own[0]
            parts.append((f"flatten(list_transform({listed}, lambda {item}, {index}: {rows}))", own[1]))
            total = self.var()
            size = self.subtree_size(select, replace(items, sql=total, many=False))
            preceding += f" + coalesce(list_sum(list_transform({listed}, lambda {total}: 1 + {size})), 0)"
        if not parts:
            return None
        return f"list_concat({', '.join(rows for rows, _ in parts)})", parts[0][1]


def compile_view(
    raw: Any, table: str, physical: schema.Physical | None = None, dialect: str = "duckdb", strict: bool = False
) -> str:
    """SQL of a ViewDefinition (JSON dict or parsed ``View``) over ``table``, for ``dialect``. ``physical`` is
    the table's type (DuckDB); with ``strict``, an element it lacks is an error instead of an empty value."""
    view = raw if isinstance(raw, View) else parse_view(raw)
    if dialect == "duckdb":
        return DuckDBCompiler(view, physical, strict).compile(table)
    if dialect == "redshift":
        from patient360.sql_on_fhir.redshift import RedshiftCompiler

        return RedshiftCompiler(view).compile(table)
    raise ValueError(f"unknown SQL dialect {dialect!r}: duckdb or redshift")
