"""Stand-in patient list for the front desk when no FHIR population is at hand (tests, demos).

Plain ``(patient_id, mrn, gender, birth_date, phone)`` records, as the FHIR population hands them over:
uuid4-style ids and MRNs drawn from a seeded random, so the same seed gives the same people.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

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
