"""Stand-in patient list for the front desk when no FHIR population is at hand (tests, demos).

Plain ``(patient_id, mrn, gender, birth_date, phone)`` records, as the FHIR population hands them over:
uuid4-style ids and MRNs drawn from a seeded random, so the same seed gives the same people.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from pathlib import Path

import duckdb

from simulators.front_desk.operations import FrontDeskPatient


def synthetic_patients(count: int, seed: int) -> list[FrontDeskPatient]:
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    rng = random.Random(seed)
    people = []
    for _ in range(count):
        patient_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        mrn = f"{rng.getrandbits(64):016x}"[:8] + "-" + f"{rng.randrange(10**4):04d}"
        birth = date(1935, 1, 1) + timedelta(days=rng.randrange(85 * 365))
        phone = f"555-{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"
        people.append(FrontDeskPatient(patient_id, mrn, rng.choice(["male", "female"]), birth, phone))
    return people


def patients_from_healthlake(catalog_path: Path, database: str) -> list[FrontDeskPatient]:
    """The FHIR population as imported into the HealthLake stand-in: id, MRN (identifier typed MR),
    gender, birth date, first phone. The desk then sees the same people HealthLake holds."""
    if not catalog_path.exists():
        raise FileNotFoundError(f"no HealthLake stand-in at {catalog_path}: import a FHIR export first")
    with duckdb.connect(str(catalog_path), read_only=True) as con:
        rows = con.execute(
            f'select id, identifier, gender, birthdate, telecom from "{database}".patient order by id'
        ).fetchall()
    people = []
    for patient_id, identifiers, gender, birth_text, telecom in rows:
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
        people.append(FrontDeskPatient(patient_id, mrn, gender, birth, phone))
    return people
