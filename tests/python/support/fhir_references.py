"""A small bulk export whose clinical resources reference patients in every form FHIR allows, some of them
dangling, and the resolution each one must get (patient id, or the unresolved reason)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MRN_SYSTEM = "http://hospital.example.org/mrn"
MR_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
P3_FULL_URL = "urn:uuid:3f0c8e4e-6a52-4f4e-9d36-0c2b9a3c1f03"
UNKNOWN_URN = "urn:uuid:00000000-0000-4000-8000-000000000000"
HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]}
BODY_WEIGHT = {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]}


@dataclass(frozen=True)
class Expected:
    resource_type: str
    resource_id: str
    patient_id: str | None  # the known patient it resolves to
    reason: str | None  # why it does not resolve


def patient(patient_id: str, mrn: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1980-01-02",
        "identifier": [{"type": MR_TYPE, "system": MRN_SYSTEM, "value": mrn}],
        "name": [{"use": "official", "family": f"Family-{patient_id}", "given": [f"Given-{patient_id}"]}],
    }


def by_identifier(value: str, system: str | None = MRN_SYSTEM) -> dict[str, Any]:
    identifier: dict[str, Any] = {"value": value}
    if system:
        identifier["system"] = system
    return {"identifier": identifier}


def contained_patient(local_id: str, mrn: str | None) -> dict[str, Any]:
    contained: dict[str, Any] = {"resourceType": "Patient", "id": local_id}
    if mrn:
        contained["identifier"] = [{"system": MRN_SYSTEM, "value": mrn}]
    return contained


def clinical(resource_type: str, resource_id: str, reference: dict[str, Any] | None,
             contained: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    element = "patient" if resource_type in ("AllergyIntolerance", "Immunization") else "subject"
    resource: dict[str, Any] = {"resourceType": resource_type, "id": resource_id}
    if reference is not None:
        resource[element] = reference
    if contained:
        resource["contained"] = contained
    if resource_type == "Observation":
        resource.update(status="final", code=HEART_RATE, valueQuantity={"value": 72, "unit": "/min"},
                        effectiveDateTime="2024-05-01T10:00:00Z")
    if resource_type == "Condition":
        resource.update(clinicalStatus={"coding": [{"code": "active"}]}, code={"text": f"condition {resource_id}"})
    if resource_type == "Immunization":
        resource.update(status="completed", vaccineCode={"text": "flu"}, occurrenceDateTime="2024-01-01")
    if resource_type == "AllergyIntolerance":
        resource.update(code={"text": f"allergen {resource_id}"}, criticality="low")
    if resource_type == "Encounter":
        resource.update(status="finished", period={"start": "2024-01-01T09:00:00Z"})
    return resource


def ref(text: str) -> dict[str, Any]:
    return {"reference": text}


# (resource type, id, reference, contained, expected patient, expected reason)
CASES: list[tuple[str, str, dict[str, Any] | None, list[dict[str, Any]] | None, str | None, str | None]] = [
    ("AllergyIntolerance", "a-relative", ref("Patient/p1"), None, "p1", None),
    ("AllergyIntolerance", "a-versioned", ref("Patient/p2/_history/3"), None, "p2", None),
    ("AllergyIntolerance", "a-absolute", ref("https://ehr.example.org/fhir/Patient/p3"), None, "p3", None),
    ("AllergyIntolerance", "a-dangling", ref("Patient/ghost-a"), None, None, "patient ghost-a is not in the datastore"),
    ("Condition", "c-urn", ref(P3_FULL_URL), None, "p3", None),
    ("Condition", "c-urn-unknown", ref(UNKNOWN_URN), None, None, "no imported resource has this fullUrl"),
    ("Condition", "c-dangling", ref("Patient/ghost-c/_history/1"), None, None,
     "patient ghost-c is not in the datastore"),
    ("Immunization", "i-identifier", by_identifier("MRN-1"), None, "p1", None),
    ("Immunization", "i-identifier-any-system", by_identifier("MRN-2", None), None, "p2", None),
    ("Immunization", "i-identifier-unknown", by_identifier("MRN-404"), None, None,
     "no known patient has this identifier"),
    ("Immunization", "i-dangling", ref("https://ehr.example.org/fhir/Patient/ghost-i"), None, None,
     "patient ghost-i is not in the datastore"),
    ("Encounter", "e-contained", ref("#cp"), [contained_patient("cp", "MRN-1")], "p1", None),
    ("Encounter", "e-contained-no-identifier", ref("#cp"), [contained_patient("cp", None)], None,
     "contained resource not found or without identifier"),
    ("Encounter", "e-group", ref("Group/7"), None, None, "refers to a Group, not a Patient"),
    ("Encounter", "e-dangling", ref("Patient/ghost-e"), None, None, "patient ghost-e is not in the datastore"),
    ("Observation", "o-conditional", ref(f"Patient?identifier={MRN_SYSTEM}|MRN-2"), None, "p2", None),
    ("Observation", "o-missing", None, None, None, "no patient reference"),
    ("Observation", "o-dangling", ref("Patient/ghost-o"), None, None, "patient ghost-o is not in the datastore"),
]

KNOWN_PATIENTS = ("p1", "p2", "p3")


def expected_resolutions() -> list[Expected]:
    return [Expected(t, i, p, r) for t, i, _, _, p, r in CASES]


def write_reference_export(folder: Path) -> Path:
    """The export: p1 and p2 as NDJSON, p3 inside a Bundle (its fullUrl is a urn:uuid), the clinical
    resources by type, and one dangling body-weight Observation (not a heart rate: not modelled)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[dict[str, Any]]] = {"Patient": [patient("p1", "MRN-1"), patient("p2", "MRN-2")]}
    for resource_type, resource_id, reference, contained, _, _ in CASES:
        by_type.setdefault(resource_type, []).append(clinical(resource_type, resource_id, reference, contained))
    weight = clinical("Observation", "o-weight-dangling", ref("Patient/ghost-w"))
    weight["code"] = BODY_WEIGHT
    by_type["Observation"].append(weight)
    for resource_type, resources in by_type.items():
        lines = "".join(json.dumps(r) + "\n" for r in resources)
        (folder / f"{resource_type}.000.ndjson").write_text(lines, encoding="utf-8")
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"fullUrl": P3_FULL_URL, "resource": patient("p3", "MRN-3"),
                         "request": {"method": "POST", "url": "Patient"}}]}
    (folder / "Bundle.000.ndjson").write_text(json.dumps(bundle) + "\n", encoding="utf-8")
    return folder
