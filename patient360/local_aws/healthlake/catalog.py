"""Reads of the local HealthLake stand-in that other steps need (who the patients are)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from simulators.front_desk.operations import FrontDeskPatient


class NoHealthLakeData(FileNotFoundError):
    """The HealthLake stand-in has not been created yet (nothing imported)."""


def _require(catalog_path: Path) -> None:
    if not catalog_path.exists():
        raise NoHealthLakeData(
            f"no HealthLake stand-in at {catalog_path}: run `patient360 healthlake import` or `patient360 run` first"
        )


def patient_ids(catalog_path: Path, database: str) -> list[str]:
    """The ids of the stand-in's Patient resources (so wearables and the desk belong to real patients)."""
    _require(catalog_path)
    with duckdb.connect(str(catalog_path), read_only=True) as con:
        rows = con.execute(f'select id from "{database}".patient order by id').fetchall()
    return [row[0] for row in rows]


def front_desk_patients(catalog_path: Path, database: str) -> list[FrontDeskPatient]:
    """The FHIR population as imported: id, MRN (identifier typed MR), gender, birth date, first phone. The
    desk then sees the same people HealthLake holds."""
    _require(catalog_path)
    with duckdb.connect(str(catalog_path), read_only=True) as con:
        rows = con.execute(
            f'select id, identifier, gender, birthdate, telecom from "{database}".patient order by id'
        ).fetchall()
    return [_desk_patient(*row) for row in rows]


def _desk_patient(patient_id: str, identifiers: list, gender: str, birth_text: str, telecom: list) -> FrontDeskPatient:
    mrn = next(
        (
            ident["value"] for ident in identifiers or []
            if any(c.get("code") == "MR" for c in ((ident.get("type") or {}).get("coding") or []))
        ),
        None,
    )
    phone = next((t["value"] for t in telecom or [] if t.get("system") == "phone"), None)
    try:
        birth = date.fromisoformat(birth_text) if birth_text else None
    except ValueError:
        birth = None  # partial FHIR dates (YYYY, YYYY-MM)
    return FrontDeskPatient(patient_id, mrn, gender, birth, phone)
