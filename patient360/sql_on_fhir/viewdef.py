"""Parse and validate a ViewDefinition (JSON) into a small typed tree, with FHIRPath already parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patient360.sql_on_fhir import fhirpath
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sql_on_fhir.schema import is_resource_type


@dataclass(frozen=True)
class Path:
    text: str
    node: fhirpath.Node
    where: str  # where it sits in the view, for errors: "select[0].column[1]"


@dataclass(frozen=True)
class Column:
    name: str
    path: Path
    type: str | None
    collection: bool | None  # None: not said (a path that gives several values fails at run time)
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # the spec's column tag: (name, value)


@dataclass(frozen=True)
class Select:
    where: str
    columns: tuple[Column, ...] = ()
    selects: tuple[Select, ...] = ()
    for_each: Path | None = None
    or_null: bool = False
    repeat: tuple[Path, ...] = ()
    union_all: tuple[Select, ...] = ()


@dataclass(frozen=True)
class View:
    name: str
    title: str
    resource: str
    constants: dict[str, Any]
    where: tuple[Path, ...]
    root: Select


def _path(view: str, text: Any, where: str) -> Path:
    if not isinstance(text, str):
        raise ViewDefinitionError(view, where, f"a FHIRPath must be a string, got {type(text).__name__}")
    try:
        return Path(text, fhirpath.parse(text), where)
    except fhirpath.FhirPathSyntaxError as exc:
        raise ViewDefinitionError(view, where, f"invalid FHIRPath {text!r}: {exc}") from exc


def _list(view: str, value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ViewDefinitionError(view, where, f"must be a list, got {type(value).__name__}")
    return value


def _column(view: str, raw: Any, where: str) -> Column:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or "path" not in raw:
        raise ViewDefinitionError(view, where, "a column needs a string 'name' and a 'path'")
    column_type = raw.get("type")
    if column_type is not None and not isinstance(column_type, str):
        raise ViewDefinitionError(view, f"{where}.type", "a column type must be a FHIR type name")
    tags = tuple((t.get("name", ""), t.get("value", "")) for t in _list(view, raw.get("tag"), f"{where}.tag"))
    return Column(
        raw["name"], _path(view, raw["path"], f"{where}.path"), column_type, raw.get("collection"),
        str(raw.get("description", "")), tags,
    )


def _select(view: str, raw: Any, where: str) -> Select:
    if not isinstance(raw, dict):
        raise ViewDefinitionError(view, where, "a select must be a JSON object")
    if "forEach" in raw and "forEachOrNull" in raw:
        raise ViewDefinitionError(view, where, "forEach and forEachOrNull are exclusive")
    each_key = "forEach" if "forEach" in raw else "forEachOrNull" if "forEachOrNull" in raw else None
    def each(key: str) -> list[tuple[str, Any]]:
        return [(f"{where}.{key}[{i}]", item) for i, item in enumerate(_list(view, raw.get(key), f"{where}.{key}"))]

    columns = tuple(_column(view, c, at) for at, c in each("column"))
    selects = tuple(_select(view, s, at) for at, s in each("select"))
    unions = tuple(_select(view, s, at) for at, s in each("unionAll"))
    repeat = tuple(_path(view, p, at) for at, p in each("repeat"))
    if not (columns or selects or unions):
        raise ViewDefinitionError(view, where, "a select needs at least one of column, select or unionAll")
    return Select(
        where, columns, selects,
        for_each=_path(view, raw[each_key], f"{where}.{each_key}") if each_key else None,
        or_null=each_key == "forEachOrNull", repeat=repeat, union_all=unions,
    )


def _constants(view: str, raw: Any) -> dict[str, Any]:
    constants: dict[str, Any] = {}
    for i, constant in enumerate(_list(view, raw, "constant")):
        where = f"constant[{i}]"
        values = [k for k in (constant if isinstance(constant, dict) else {}) if k.startswith("value")]
        if not isinstance(constant, dict) or not isinstance(constant.get("name"), str) or len(values) != 1:
            raise ViewDefinitionError(view, where, "a constant needs a 'name' and exactly one value[x]")
        constants[constant["name"]] = constant[values[0]]
    return constants


def parse_view(raw: Any, default_name: str = "view") -> View:
    """Validate a ViewDefinition; raises ``ViewDefinitionError`` naming the view, where, and why."""
    name = (raw.get("name") or raw.get("title") or default_name) if isinstance(raw, dict) else default_name
    if not isinstance(raw, dict):
        raise ViewDefinitionError(name, "$", "a ViewDefinition must be a JSON object")
    resource = raw.get("resource")
    if not isinstance(resource, str) or not resource:
        raise ViewDefinitionError(name, "resource", "the resource type is missing")
    if not is_resource_type(resource):
        raise ViewDefinitionError(name, "resource", f"{resource!r} is not a FHIR R4 resource type")
    selects = _list(name, raw.get("select"), "select")
    if not selects:
        raise ViewDefinitionError(name, "select", "a view needs at least one select")
    wheres = []
    for i, clause in enumerate(_list(name, raw.get("where"), "where")):
        if not isinstance(clause, dict) or "path" not in clause:
            raise ViewDefinitionError(name, f"where[{i}]", "a where clause needs a 'path'")
        wheres.append(_path(name, clause["path"], f"where[{i}].path"))
    root = Select("select", selects=tuple(_select(name, s, f"select[{i}]") for i, s in enumerate(selects)))
    return View(name, str(raw.get("title", "")), resource, _constants(name, raw.get("constant")), tuple(wheres), root)


@dataclass(frozen=True)
class OutputColumn:
    name: str
    type: str | None
    collection: bool


def output_columns(select: Select) -> list[OutputColumn]:
    """The view's columns in order (a unionAll contributes its first branch's)."""
    columns = [OutputColumn(c.name, c.type, c.collection is True) for c in select.columns]
    for child in select.selects:
        columns += output_columns(child)
    if select.union_all:
        columns += output_columns(select.union_all[0])
    return columns
