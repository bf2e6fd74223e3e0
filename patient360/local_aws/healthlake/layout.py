"""FHIR resources -> the table layout AWS HealthLake exposes to Redshift.

HealthLake keeps one Apache Iceberg table per resource type. What a query sees:
  * column and nested field names are lowercase (``birthDate`` -> ``birthdate``),
  * complex elements are nested structs and lists,
  * ``extension`` / ``modifierExtension`` (at any depth) are arrays of JSON strings,
  * FHIR dates and instants stay strings, references stay ``"Patient/<id>"`` strings.

Each table's type is the declared base schema below (the columns the dbt models rely on exist even
when no resource uses them) merged with the types inferred from the data (nothing imported is lost).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

EXTENSION_KEYS = frozenset({"extension", "modifierextension"})


# --- a small type algebra -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    name: str  # VARCHAR | BIGINT | DOUBLE | BOOLEAN | JSON


@dataclass(frozen=True)
class ListOf:
    item: FhirType


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, FhirType], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, FhirType]:
        return dict(self.fields)


FhirType = Scalar | ListOf | Struct

VARCHAR = Scalar("VARCHAR")
BIGINT = Scalar("BIGINT")
DOUBLE = Scalar("DOUBLE")
BOOLEAN = Scalar("BOOLEAN")
JSON = Scalar("JSON")
EXTENSION_LIST = ListOf(VARCHAR)


def struct(**fields: FhirType) -> Struct:
    return Struct(tuple(fields.items()))


def merge_types(left: FhirType | None, right: FhirType | None) -> FhirType:
    """Least common type of two FHIR element types; disagreeing shapes fall back to JSON."""
    if left is None:
        assert right is not None
        return right
    if right is None or left == right:
        return left
    if isinstance(left, Struct) and isinstance(right, Struct):
        merged = left.as_dict()
        for name, right_type in right.fields:
            merged[name] = merge_types(merged.get(name), right_type)
        return Struct(tuple(merged.items()))
    if isinstance(left, ListOf) and isinstance(right, ListOf):
        return ListOf(merge_types(left.item, right.item))
    if {left, right} == {BIGINT, DOUBLE}:
        return DOUBLE
    return JSON


def infer_type(value: Any, key: str = "") -> FhirType | None:
    """Type of one already-normalised JSON value; None for null / empty list (no information)."""
    if key in EXTENSION_KEYS:
        return EXTENSION_LIST
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return VARCHAR
    if isinstance(value, list):
        item_type: FhirType | None = None
        for item in value:
            item_type = merge_types(item_type, infer_type(item)) if item_type else infer_type(item)
        return ListOf(item_type) if item_type else None
    if isinstance(value, dict):
        fields = [(k, t) for k, v in value.items() if (t := infer_type(v, k)) is not None]
        return Struct(tuple(fields))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def duckdb_type(fhir_type: FhirType) -> str:
    if isinstance(fhir_type, Scalar):
        return fhir_type.name
    if isinstance(fhir_type, ListOf):
        return f"{duckdb_type(fhir_type.item)}[]"
    if not fhir_type.fields:
        return "JSON"  # an element seen only as {}: DuckDB has no empty struct
    inner = ", ".join(f'"{name}" {duckdb_type(t)}' for name, t in fhir_type.fields)
    return f"STRUCT({inner})"


# --- the same types from DuckDB's json_structure (the fast path) ----------------------------------

_STRUCTURE_SCALARS: dict[str, FhirType | None] = {
    "NULL": None, "VARCHAR": VARCHAR, "BOOLEAN": BOOLEAN, "DOUBLE": DOUBLE,
    "UBIGINT": BIGINT, "BIGINT": BIGINT, "HUGEINT": BIGINT,
}
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_]+$")

# Per nested path: lowercase name -> (the name as written in the raw JSON, the names one level down).
NameTree = dict[str, tuple[str, "NameTree"]]


class StructureNotExact(ValueError):
    """A ``json_structure`` that may not mean what ``infer_type`` would say: use the Python path."""


def structure_type(structure: Any, names: NameTree, key: str = "") -> FhirType | None:
    """``infer_type`` of a normalised row, read from DuckDB's ``json_structure`` of the raw (camelCase) row.

    Records each key's raw spelling in ``names``. Raises ``StructureNotExact`` where DuckDB's answer is
    ambiguous (its ``"JSON"`` means both "conflicting shapes" and "empty object"), where an extension is
    not a list of objects, or where keys differ only by case: those go through the exact Python path.
    """
    if key in EXTENSION_KEYS:
        if structure in ("NULL", ["NULL"]) or (isinstance(structure, list) and isinstance(structure[0], dict)):
            return EXTENSION_LIST
        raise StructureNotExact(f"extension {structure!r} is not a list of objects")
    if isinstance(structure, str):
        if structure not in _STRUCTURE_SCALARS:
            raise StructureNotExact(structure)
        return _STRUCTURE_SCALARS[structure]
    if isinstance(structure, list):
        item = structure_type(structure[0], names)
        return ListOf(item) if item is not None else None
    fields: list[tuple[str, FhirType]] = []
    seen: set[str] = set()
    for raw_key, value in structure.items():
        lower = raw_key.lower()
        if lower in seen or not _PLAIN_KEY.match(raw_key):
            raise StructureNotExact("keys differing only by case, or an unusual key")
        seen.add(lower)
        spelling, below = names.setdefault(lower, (raw_key, {}))
        if spelling != raw_key:
            raise StructureNotExact("one key spelt with different cases")
        if (field_type := structure_type(value, below, lower)) is not None:
            fields.append((lower, field_type))
    return Struct(tuple(fields))


def exact_in_duckdb(fhir_type: FhirType) -> bool:
    """True when DuckDB can fill this type from the raw JSON exactly: no JSON fallback anywhere (a JSON
    column holds the *normalised* text, which only the Python path writes)."""
    if isinstance(fhir_type, Scalar):
        return fhir_type != JSON
    if isinstance(fhir_type, ListOf):
        return exact_in_duckdb(fhir_type.item)
    return bool(fhir_type.fields) and all(exact_in_duckdb(t) for _, t in fhir_type.fields)


def raw_duckdb_type(fhir_type: FhirType, names: NameTree) -> str:
    """``duckdb_type`` with the raw JSON's key spellings, to read raw rows: same fields in the same order,
    so inserting them into a ``duckdb_type(fhir_type)`` column only renames the fields."""
    if isinstance(fhir_type, ListOf):
        return f"{raw_duckdb_type(fhir_type.item, names)}[]"
    if isinstance(fhir_type, Scalar) or not fhir_type.fields:
        return duckdb_type(fhir_type)
    inner = ", ".join(
        f'"{names.get(name, (name, {}))[0]}" {raw_duckdb_type(t, names.get(name, (name, {}))[1])}'
        for name, t in fhir_type.fields
    )
    return f"STRUCT({inner})"


# --- normalisation: FHIR JSON -> HealthLake row ----------------------------------------------------


def normalize(value: Any, key: str = "") -> Any:
    """Lowercase every key; turn extension arrays into arrays of (original, camelCase) JSON strings."""
    if key in EXTENSION_KEYS and isinstance(value, list):
        return [json.dumps(item, separators=(",", ":"), ensure_ascii=False) for item in value]
    if isinstance(value, dict):
        return {k.lower(): normalize(v, k.lower()) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


# --- declared base schemas (the elements the models read) ------------------------------------------

CODING = struct(system=VARCHAR, version=VARCHAR, code=VARCHAR, display=VARCHAR, userselected=BOOLEAN)
CODEABLE_CONCEPT = struct(coding=ListOf(CODING), text=VARCHAR)
PERIOD = struct(start=VARCHAR, end=VARCHAR)
QUANTITY = struct(value=DOUBLE, comparator=VARCHAR, unit=VARCHAR, system=VARCHAR, code=VARCHAR)
IDENTIFIER = struct(use=VARCHAR, type=CODEABLE_CONCEPT, system=VARCHAR, value=VARCHAR, period=PERIOD)
# A reference may be literal (`reference`) or logical (`identifier`, e.g. an MRN, with no literal reference).
REFERENCE = struct(reference=VARCHAR, type=VARCHAR, identifier=IDENTIFIER, display=VARCHAR)
# Contained resources (`#id` references point into them): the elements the reference resolution reads.
CONTAINED = ListOf(struct(resourcetype=VARCHAR, id=VARCHAR, identifier=ListOf(IDENTIFIER)))
HUMAN_NAME = struct(
    use=VARCHAR, text=VARCHAR, family=VARCHAR, given=ListOf(VARCHAR), prefix=ListOf(VARCHAR),
    suffix=ListOf(VARCHAR), period=PERIOD,
)
CONTACT_POINT = struct(system=VARCHAR, value=VARCHAR, use=VARCHAR, rank=BIGINT, period=PERIOD)
ADDRESS = struct(
    extension=EXTENSION_LIST, use=VARCHAR, type=VARCHAR, text=VARCHAR, line=ListOf(VARCHAR), city=VARCHAR,
    district=VARCHAR, state=VARCHAR, postalcode=VARCHAR, country=VARCHAR, period=PERIOD,
)
META = struct(versionid=VARCHAR, lastupdated=VARCHAR, source=VARCHAR, profile=ListOf(VARCHAR))


# Every resource type's table has these, whatever the data holds.
BASE_SCHEMAS_COMMON = struct(
    resourcetype=VARCHAR, id=VARCHAR, meta=META, extension=EXTENSION_LIST,
    modifierextension=EXTENSION_LIST, identifier=ListOf(IDENTIFIER),
)


def _resource(**elements: FhirType) -> Struct:
    return merge_types(BASE_SCHEMAS_COMMON, struct(**elements))  # type: ignore[return-value]


BASE_SCHEMAS: dict[str, Struct] = {
    "Patient": _resource(
        active=BOOLEAN, name=ListOf(HUMAN_NAME), telecom=ListOf(CONTACT_POINT), gender=VARCHAR,
        birthdate=VARCHAR, deceasedboolean=BOOLEAN, deceaseddatetime=VARCHAR, address=ListOf(ADDRESS),
        maritalstatus=CODEABLE_CONCEPT, multiplebirthboolean=BOOLEAN, multiplebirthinteger=BIGINT,
        communication=ListOf(struct(language=CODEABLE_CONCEPT, preferred=BOOLEAN)),
    ),
    "AllergyIntolerance": _resource(
        contained=CONTAINED,
        clinicalstatus=CODEABLE_CONCEPT, verificationstatus=CODEABLE_CONCEPT, type=VARCHAR,
        category=ListOf(VARCHAR), criticality=VARCHAR, code=CODEABLE_CONCEPT, patient=REFERENCE,
        encounter=REFERENCE, onsetdatetime=VARCHAR, recordeddate=VARCHAR, recorder=REFERENCE,
        lastoccurrence=VARCHAR,
        reaction=ListOf(struct(
            substance=CODEABLE_CONCEPT, manifestation=ListOf(CODEABLE_CONCEPT), description=VARCHAR,
            onset=VARCHAR, severity=VARCHAR,
        )),
    ),
    "Condition": _resource(
        contained=CONTAINED,
        clinicalstatus=CODEABLE_CONCEPT, verificationstatus=CODEABLE_CONCEPT,
        category=ListOf(CODEABLE_CONCEPT), severity=CODEABLE_CONCEPT, code=CODEABLE_CONCEPT,
        subject=REFERENCE, encounter=REFERENCE, onsetdatetime=VARCHAR, abatementdatetime=VARCHAR,
        recordeddate=VARCHAR,
    ),
    "Immunization": _resource(
        contained=CONTAINED,
        status=VARCHAR, vaccinecode=CODEABLE_CONCEPT, patient=REFERENCE, encounter=REFERENCE,
        occurrencedatetime=VARCHAR, occurrencestring=VARCHAR, primarysource=BOOLEAN, lotnumber=VARCHAR,
    ),
    "Encounter": _resource(
        contained=CONTAINED,
        status=VARCHAR, **{"class": CODING}, type=ListOf(CODEABLE_CONCEPT), subject=REFERENCE,
        period=PERIOD, reasoncode=ListOf(CODEABLE_CONCEPT), serviceprovider=REFERENCE,
        participant=ListOf(struct(type=ListOf(CODEABLE_CONCEPT), individual=REFERENCE)),
    ),
    "Observation": _resource(
        contained=CONTAINED,
        status=VARCHAR, category=ListOf(CODEABLE_CONCEPT), code=CODEABLE_CONCEPT, subject=REFERENCE,
        encounter=REFERENCE, effectivedatetime=VARCHAR, issued=VARCHAR, valuequantity=QUANTITY,
        valuecodeableconcept=CODEABLE_CONCEPT, valuestring=VARCHAR,
        component=ListOf(struct(code=CODEABLE_CONCEPT, valuequantity=QUANTITY)),
    ),
}


def table_name(resource_type: str) -> str:
    return resource_type.lower()
