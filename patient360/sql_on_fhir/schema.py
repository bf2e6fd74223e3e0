"""What the compiler must know of FHIR R4 and of the tables: which element is a list, its type, its choices.

Two sources, none hand-written:
  * the FHIR R4 structure comes from the ``fhir.resources`` models (R4B, the R4-compatible release the
    importer already validates with): cardinality, element type, choice groups (``value[x]``);
  * what a table physically holds comes from the DuckDB column types the HealthLake import produced
    (an element FHIR knows but no imported resource used has no column: it compiles to an empty value).
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass, field
from typing import Any

import duckdb

# FHIRPath's System types for the FHIR primitives (lowercase, as ofType() and column types spell them).
_PRIMITIVE_NAMES = {
    "bool": "boolean", "str": "string", "int": "integer", "float": "decimal", "Decimal": "decimal",
}


@dataclass(frozen=True)
class Element:
    name: str  # the FHIR (camelCase) spelling, as in the JSON of an extension
    many: bool
    type_name: str  # "HumanName", "string", "boolean", "PatientContact", ...
    primitive: bool
    choices: dict[str, str] = field(default_factory=dict)  # value[x]: lowercase type -> camelCase element


@functools.cache
def model_class(type_name: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(type_name)
    except (KeyError, ValueError):
        return None


def is_resource_type(type_name: str) -> bool:
    """A resource (not a datatype): resources alone have ``implicitRules``."""
    cls = model_class(type_name) if type_name[:1].isupper() else None
    return cls is not None and "implicitRules" in cls.model_fields


def _type_of(annotation: Any) -> tuple[bool, str, bool]:
    """(many, type name, primitive) from a pydantic field annotation of ``fhir.resources``."""
    many = False
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            annotation = next(a for a in args if a is not type(None))
        elif origin is list:
            many, annotation = True, args[0]
        elif origin is typing.Annotated:
            return many, type(args[1]).__name__[:1].lower() + type(args[1]).__name__[1:], True
        else:
            break
    name = getattr(annotation, "__name__", str(annotation))
    if name in _PRIMITIVE_NAMES:
        return many, _PRIMITIVE_NAMES[name], True
    return many, name.removesuffix("Type"), False


@functools.cache
def elements_of(type_name: str) -> dict[str, Element]:
    """Lowercase element name -> Element, for a resource, datatype or backbone element type."""
    cls = model_class(type_name)
    if cls is None:
        return {}
    found: dict[str, Element] = {}
    choices: dict[str, dict[str, str]] = {}
    for python_name, info in cls.model_fields.items():
        name = info.alias or python_name  # "class" is "class_fhir" in Python
        if name.endswith("__ext") or name == "fhir_comments":
            continue
        many, element_type, primitive = _type_of(info.annotation)
        found[name.lower()] = Element(name, many, element_type, primitive)
        group = (info.json_schema_extra or {}).get("one_of_many")
        if group:
            choices.setdefault(group.lower(), {})[name[len(group):].lower()] = name
    for group, members in choices.items():
        found[group] = Element(group, False, "choice", False, members)
    return found


def element(type_name: str, name: str) -> Element | None:
    return elements_of(type_name).get(name.lower())


# --- physical types: what the imported DuckDB table holds --------------------------------------------


@dataclass(frozen=True)
class Physical:
    """A DuckDB type: ``fields`` for a struct, ``item`` for a list, neither for a scalar."""

    sql: str
    fields: dict[str, Physical] | None = None
    item: Physical | None = None


def physical_of(duck_type: Any) -> Physical:
    kind = duck_type.id
    if kind == "struct":
        return Physical(str(duck_type), fields={name: physical_of(t) for name, t in duck_type.children})
    if kind == "list":
        return Physical(str(duck_type), item=physical_of(duck_type.children[0][1]))
    return Physical(str(duck_type))


def table_physical(con: duckdb.DuckDBPyConnection, table: str) -> Physical | None:
    """The row type of a table (a struct of its columns), or None when the table does not exist."""
    try:
        relation = con.sql(f"select * from {table} limit 0")
    except duckdb.CatalogException:
        return None
    columns = zip(relation.columns, relation.types, strict=True)
    return Physical("row", fields={name: physical_of(duck_type) for name, duck_type in columns})
