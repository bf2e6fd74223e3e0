"""The synthetic FHIR population: valid FHIR R4, deterministic, and its ground truth matches what it wrote."""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from patient360.settings import process_environ
from simulators.fhir.population import (
    RESOURCE_TYPES,
    Population,
    PopulationConfig,
    generate_population,
    iter_patient_ids,
    stream_bulk_export,
    write_bulk_export,
)
from tests.python.support import PROJECT_DIR

MR_TYPE = ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR")
RACE_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
ANAPHYLAXIS = "39579001"
STAMP_FIELDS = ("birthDate", "recordedDate", "onsetDateTime", "abatementDateTime", "occurrenceDateTime",
                "effectiveDateTime", "deceasedDateTime")


@pytest.fixture(scope="module")
def population_30() -> Population:
    return generate_population(PopulationConfig(patients=30, seed=7))


@pytest.fixture(scope="module")
def population_200() -> Population:
    return generate_population(PopulationConfig(patients=200, seed=42))


def patient_of(resource: dict[str, Any]) -> str:
    reference = (resource.get("subject") or resource.get("patient"))["reference"]
    assert reference.startswith("Patient/"), reference
    return reference.removeprefix("Patient/")


def day(value: str) -> datetime.date:
    return datetime.date.fromisoformat(value[:10])


def home_phone(patient: dict[str, Any]) -> str:
    return next(t["value"] for t in patient["telecom"] if t["system"] == "phone" and t["use"] == "home")


def export_digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.ndjson"))}


# ------------------------------------------------------------------------------------- FHIR validity


def test_every_resource_validates_as_fhir_r4(population_30: Population) -> None:
    problems = []
    checked = Counter()
    for resource_type, resources in population_30.resources.items():
        model = get_fhir_model_class(resource_type)
        for resource in resources:
            assert resource["resourceType"] == resource_type
            try:
                model.model_validate(resource)
            except ValidationError as exc:
                problems.append(f"{resource_type}/{resource['id']}: {exc.errors(include_input=False)[0]}")
            checked[resource_type] += 1
    assert not problems, "\n".join(problems[:5])
    assert set(checked) == set(RESOURCE_TYPES), checked
    assert all(checked[t] > 0 for t in RESOURCE_TYPES), checked


def test_written_ndjson_lines_validate_too(population_30: Population, tmp_path: Path) -> None:
    counts = write_bulk_export(population_30, tmp_path)
    for resource_type, count in counts.items():
        lines = (tmp_path / f"{resource_type}.000.ndjson").read_text(encoding="utf-8").splitlines()
        assert len(lines) == count
        model = get_fhir_model_class(resource_type)
        for line in lines[:50]:
            model.model_validate(json.loads(line))


# fhir.resources checks structure, types and cardinality but neither required code bindings nor the
# "no empty arrays, objects or strings" rule of FHIR JSON: checked here.
REQUIRED_BINDINGS: dict[tuple[str, str], set[str]] = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Patient", "name.use"): {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
    ("Patient", "telecom.system"): {"phone", "fax", "email", "pager", "url", "sms", "other"},
    ("Patient", "telecom.use"): {"home", "work", "temp", "old", "mobile"},
    ("Patient", "address.use"): {"home", "work", "temp", "old", "billing"},
    ("Encounter", "status"): {"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                              "cancelled", "entered-in-error", "unknown"},
    ("Encounter", "class.code"): {"AMB", "EMER", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR", "HH",
                                  "FLD"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                "entered-in-error", "unknown"},
    ("Immunization", "status"): {"completed", "entered-in-error", "not-done"},
    ("AllergyIntolerance", "type"): {"allergy", "intolerance"},
    ("AllergyIntolerance", "category"): {"food", "medication", "environment", "biologic"},
    ("AllergyIntolerance", "criticality"): {"low", "high", "unable-to-assess"},
    ("AllergyIntolerance", "reaction.severity"): {"mild", "moderate", "severe"},
    ("AllergyIntolerance", "clinicalStatus.coding.code"): {"active", "inactive", "resolved"},
    ("AllergyIntolerance", "verificationStatus.coding.code"): {"unconfirmed", "confirmed", "refuted",
                                                               "entered-in-error"},
    ("Condition", "clinicalStatus.coding.code"): {"active", "recurrence", "relapse", "inactive", "remission",
                                                  "resolved"},
    ("Condition", "verificationStatus.coding.code"): {"unconfirmed", "provisional", "differential",
                                                      "confirmed", "refuted", "entered-in-error"},
}


def values_at(node: Any, path: list[str]) -> list[Any]:
    if isinstance(node, list):
        return [v for item in node for v in values_at(item, path)]
    if not path:
        return [node]
    return values_at(node[path[0]], path[1:]) if isinstance(node, dict) and path[0] in node else []


def empty_values(node: Any, where: str = "") -> list[str]:
    if node in ("", [], {}) or node is None:
        return [where]
    if isinstance(node, dict):
        return [w for key, value in node.items() for w in empty_values(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [w for i, value in enumerate(node) for w in empty_values(value, f"{where}[{i}]")]
    return []


def test_required_bindings_and_no_empty_values(population_200: Population) -> None:
    seen: Counter[tuple[str, str]] = Counter()
    for (resource_type, path), allowed in REQUIRED_BINDINGS.items():
        for resource in population_200.resources[resource_type]:
            for value in values_at(resource, path.split(".")):
                assert value in allowed, f"{resource_type}.{path} = {value!r}"
                seen[resource_type, path] += 1
    assert set(seen) == set(REQUIRED_BINDINGS), set(REQUIRED_BINDINGS) - set(seen)
    for resources in population_200.resources.values():
        for resource in resources:
            assert not empty_values(resource), (resource["resourceType"], empty_values(resource))
    for condition in population_200.resources["Condition"]:  # invariant con-4: abatement => not active
        if "abatementDateTime" in condition:
            assert condition["clinicalStatus"]["coding"][0]["code"] in {"inactive", "resolved", "remission"}


def test_ids_unique_and_references_resolve_to_the_same_patient(population_200: Population) -> None:
    resources = population_200.resources
    all_ids = [r["id"] for items in resources.values() for r in items]
    assert len(all_ids) == len(set(all_ids))
    patients = {r["id"] for r in resources["Patient"]}
    encounter_patient = {r["id"]: patient_of(r) for r in resources["Encounter"]}
    for resource_type in ("AllergyIntolerance", "Condition", "Encounter", "Immunization", "Observation"):
        for resource in resources[resource_type]:
            assert patient_of(resource) in patients
            if "encounter" in resource:
                encounter_id = resource["encounter"]["reference"].removeprefix("Encounter/")
                assert encounter_patient[encounter_id] == patient_of(resource)


# ------------------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_export(tmp_path: Path) -> None:
    config = PopulationConfig(patients=40, seed=123)
    write_bulk_export(generate_population(config), tmp_path / "a")
    write_bulk_export(generate_population(config), tmp_path / "b")
    first, second = export_digest(tmp_path / "a"), export_digest(tmp_path / "b")
    assert first == second
    assert set(first) == {f"{t}.000.ndjson" for t in RESOURCE_TYPES}


def test_different_seed_gives_different_population(tmp_path: Path) -> None:
    a = generate_population(PopulationConfig(patients=40, seed=1))
    b = generate_population(PopulationConfig(patients=40, seed=2))
    assert set(a.ground_truth).isdisjoint(b.ground_truth)
    names_a = {(t.given_name, t.family_name) for t in a.ground_truth.values()}
    names_b = {(t.given_name, t.family_name) for t in b.ground_truth.values()}
    assert names_a != names_b
    write_bulk_export(a, tmp_path / "a")
    write_bulk_export(b, tmp_path / "b")
    patients_a = export_digest(tmp_path / "a")["Patient.000.ndjson"]
    assert patients_a != export_digest(tmp_path / "b")["Patient.000.ndjson"]


def test_output_does_not_depend_on_process_or_hash_seed(tmp_path: Path) -> None:
    """Another interpreter with another PYTHONHASHSEED writes the same bytes."""
    config = PopulationConfig(patients=15, seed=99)
    write_bulk_export(generate_population(config), tmp_path / "here")
    script = (
        "import sys; from pathlib import Path; "
        "from simulators.fhir.population import PopulationConfig, generate_population, write_bulk_export; "
        "write_bulk_export(generate_population(PopulationConfig(patients=15, seed=99)), Path(sys.argv[1]))"
    )
    env = {**process_environ(), "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "there")], check=True, cwd=PROJECT_DIR,
                   env=env, timeout=120)
    assert export_digest(tmp_path / "here") == export_digest(tmp_path / "there")


def test_global_random_state_is_neither_used_nor_changed() -> None:
    config = PopulationConfig(patients=8, seed=4)
    random.seed(1)
    expected_next = random.random()
    random.seed(1)
    first = generate_population(config)
    assert random.random() == expected_next
    random.seed(2)
    assert generate_population(config).resources == first.resources


def test_smaller_population_is_a_prefix_and_ids_can_be_listed_alone() -> None:
    small = generate_population(PopulationConfig(patients=10, seed=5))
    large = generate_population(PopulationConfig(patients=25, seed=5))
    assert list(small.ground_truth.values()) == list(large.ground_truth.values())[:10]
    assert small.resources["Patient"] == large.resources["Patient"][:10]
    assert list(iter_patient_ids(PopulationConfig(patients=25, seed=5))) == list(large.ground_truth)


def test_as_of_is_respected_and_nothing_happens_after_death(population_200: Population) -> None:
    as_of = PopulationConfig().as_of
    death = {t.patient_id: t.deceased_date for t in population_200.ground_truth.values()}
    for resource_type, resources in population_200.resources.items():
        for resource in resources:
            stamps = [resource.get(k) for k in STAMP_FIELDS] + list(resource.get("period", {}).values())
            stamps = [day(s) for s in stamps if s]
            assert stamps, resource_type
            assert max(stamps) <= as_of, resource_type
            if resource_type != "Patient":
                assert max(stamps) < as_of, resource_type
            if resource_type != "Patient" and death.get(patient_of(resource)):
                assert max(stamps) < death[patient_of(resource)], resource_type


# ------------------------------------------------------------------------------------- ground truth


def recompute_truth(population: Population) -> dict[str, dict[str, Any]]:
    """Everything the test can read back from the resources, keyed by patient id."""
    facts: dict[str, dict[str, Any]] = {}
    for patient in population.resources["Patient"]:
        official = next(n for n in patient["name"] if n.get("use") == "official")
        mrns = [i["value"] for i in patient["identifier"]
                if any((cd["system"], cd["code"]) == MR_TYPE for cd in i.get("type", {}).get("coding", []))]
        assert len(mrns) == 1
        extensions = {e["url"]: e for e in patient.get("extension", [])}

        def ext_text(url: str, extensions: dict[str, Any] = extensions) -> str | None:
            ext = extensions.get(url)
            if ext is None:
                return None
            return next(x["valueString"] for x in ext["extension"] if x["url"] == "text")

        facts[patient["id"]] = {
            "patient_id": patient["id"],
            "mrn": mrns[0],
            "given_name": official["given"][0],
            "family_name": official["family"],
            "gender": patient["gender"],
            "birth_date": datetime.date.fromisoformat(patient["birthDate"]),
            "deceased": patient.get("deceasedBoolean", False) or "deceasedDateTime" in patient,
            "deceased_date": day(patient["deceasedDateTime"]) if "deceasedDateTime" in patient else None,
            "phone": home_phone(patient),
            "name_count": len(patient["name"]),
            "has_prefix": "prefix" in official,
            "race": ext_text(RACE_URL),
            "ethnicity": ext_text(ETHNICITY_URL),
            "address_line": patient["address"][0]["line"][0],
            "email": next((t["value"] for t in patient["telecom"] if t["system"] == "email"), None),
            "city": patient["address"][0]["city"],
            "state": patient["address"][0]["state"],
            "postal_code": patient["address"][0]["postalCode"],
            "allergy_count": 0, "allergies_without_reaction": 0, "allergy_reaction_codings": 0,
            "anaphylaxis_allergy_count": 0, "active_condition_count": 0, "condition_count": 0,
            "immunization_count": 0, "last_immunization_date": None, "encounter_count": 0,
            "emergency_encounter_count": 0, "last_encounter_date": None, "observation_count": 0,
            "heart_rate_observation_count": 0, "last_heart_rate": None,
        }
    for allergy in population.resources["AllergyIntolerance"]:
        f = facts[patient_of(allergy)]
        rows = [coding for reaction in allergy.get("reaction", []) for m in reaction["manifestation"]
                for coding in m["coding"]]
        f["allergy_count"] += 1
        f["allergies_without_reaction"] += not allergy.get("reaction")
        f["allergy_reaction_codings"] += max(1, len(rows))
        f["anaphylaxis_allergy_count"] += any(cd["code"] == ANAPHYLAXIS for cd in rows)
    for condition in population.resources["Condition"]:
        f = facts[patient_of(condition)]
        f["condition_count"] += 1
        f["active_condition_count"] += condition["clinicalStatus"]["coding"][0]["code"] == "active"
    for immunization in population.resources["Immunization"]:
        f = facts[patient_of(immunization)]
        f["immunization_count"] += 1
        when = day(immunization["occurrenceDateTime"])
        f["last_immunization_date"] = max(filter(None, (f["last_immunization_date"], when)))
    for encounter in population.resources["Encounter"]:
        f = facts[patient_of(encounter)]
        f["encounter_count"] += 1
        f["emergency_encounter_count"] += encounter["class"]["code"] == "EMER"
        when = day(encounter["period"]["start"])
        f["last_encounter_date"] = max(filter(None, (f["last_encounter_date"], when)))
    latest: dict[str, str] = {}
    for observation in population.resources["Observation"]:
        f = facts[patient_of(observation)]
        f["observation_count"] += 1
        if observation["code"]["coding"][0]["code"] == "8867-4":
            f["heart_rate_observation_count"] += 1
            if observation["effectiveDateTime"] >= latest.get(f["patient_id"], ""):
                latest[f["patient_id"]] = observation["effectiveDateTime"]
                f["last_heart_rate"] = observation["valueQuantity"]["value"]
    return facts


def test_ground_truth_agrees_with_the_resources(population_200: Population) -> None:
    recomputed = recompute_truth(population_200)
    assert set(recomputed) == set(population_200.ground_truth)
    mismatches = []
    for patient_id, truth in population_200.ground_truth.items():
        for name, value in recomputed[patient_id].items():
            if getattr(truth, name) != value:
                mismatches.append(f"patient #{list(recomputed).index(patient_id)}: {name}")
    assert not mismatches, mismatches[:10]


def test_ground_truth_covers_every_truth_field() -> None:
    # The recomputation above must check every field: a new field without a check fails here.
    population = generate_population(PopulationConfig(patients=3))
    truth = next(iter(population.ground_truth.values()))
    assert set(recompute_truth(population)[truth.patient_id]) == set(vars(truth))


# ------------------------------------------------------------------------------------- realism


def test_patients_look_like_us_core(population_200: Population) -> None:
    truths = list(population_200.ground_truth.values())
    for truth in truths:
        assert re.fullmatch(r"555-\d{3}-\d{4}", truth.phone) and len(truth.phone) <= 15
        assert truth.mrn != truth.patient_id
    assert len({t.mrn for t in truths}) == len(truths)
    for patient in population_200.resources["Patient"]:
        race = next((e for e in patient["extension"] if e["url"] == RACE_URL), None)
        if race is not None:
            assert [x["url"] for x in race["extension"]] == ["ombCategory", "text"]
            assert race["extension"][0]["valueCoding"]["system"] == "urn:oid:2.16.840.1.113883.6.238"
        assert patient["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]


def test_population_has_the_variety_downstream_tests_need(population_200: Population) -> None:
    truths = list(population_200.ground_truth.values())
    resources = population_200.resources
    deceased = [r for r in resources["Patient"] if r.get("deceasedBoolean") or "deceasedDateTime" in r]
    assert 0.04 <= len(deceased) / len(truths) <= 0.2
    assert any("deceasedDateTime" in r for r in deceased) and any(r.get("deceasedBoolean") for r in deceased)
    assert {n["use"] for r in resources["Patient"] for n in r["name"]} >= {"official", "maiden", "nickname"}
    assert any(t.has_prefix for t in truths) and not all(t.has_prefix for t in truths)
    assert any(t.allergy_count == 0 for t in truths) and any(t.allergy_count >= 2 for t in truths)

    allergies = resources["AllergyIntolerance"]
    assert Counter(len(a.get("reaction", [])) for a in allergies).keys() >= {0, 1, 2}
    assert {a.get("criticality") for a in allergies} == {"low", "high", "unable-to-assess", None}
    assert any("category" not in a for a in allergies) and any("category" in a for a in allergies)
    manifestations = [m for a in allergies for r in a.get("reaction", []) for m in r["manifestation"]]
    assert {len(m["coding"]) for m in manifestations} == {1, 2}
    assert any(cd["code"] == ANAPHYLAXIS for m in manifestations for cd in m["coding"])

    statuses = {c["clinicalStatus"]["coding"][0]["code"] for c in resources["Condition"]}
    assert statuses == {"active", "resolved"}
    assert {e["class"]["code"] for e in resources["Encounter"]} >= {"AMB", "EMER"}
    assert all("start" in e["period"] and "end" in e["period"] for e in resources["Encounter"])
    assert all("occurrenceDateTime" in i for i in resources["Immunization"])

    heart_rates = [o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "8867-4"]
    assert heart_rates
    for observation in heart_rates:
        assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
        assert observation["valueQuantity"]["unit"] == "/min"
        assert observation["valueQuantity"]["code"] == "/min"
        assert 30 <= observation["valueQuantity"]["value"] <= 220
        assert observation["encounter"]["reference"].startswith("Encounter/")
    per_patient = defaultdict(int)
    for resources_of_type in resources.values():
        for resource in resources_of_type:
            owner = resource["id"] if resource["resourceType"] == "Patient" else patient_of(resource)
            per_patient[owner] += 1
    assert 15 <= sum(per_patient.values()) / len(per_patient) <= 45


def test_fifty_patients_have_an_allergy_without_reaction() -> None:
    population = generate_population(PopulationConfig(patients=50))
    assert sum(t.allergies_without_reaction for t in population.ground_truth.values()) >= 1
    assert any(t.deceased for t in population.ground_truth.values())


# ------------------------------------------------------------------------------------- bulk export files


def test_bulk_export_files_counts_and_split(population_30: Population, tmp_path: Path) -> None:
    counts = write_bulk_export(population_30, tmp_path)
    assert counts == {t: len(population_30.resources[t]) for t in RESOURCE_TYPES}
    (tmp_path / "Observation.999.ndjson").write_text("stale\n")  # from an earlier, larger export
    (tmp_path / "notes.ndjson").write_text("kept\n")
    split = write_bulk_export(population_30, tmp_path, max_resources_per_file=10)
    assert split == counts
    assert not (tmp_path / "Observation.999.ndjson").exists()
    assert (tmp_path / "notes.ndjson").read_text() == "kept\n"
    for resource_type, count in counts.items():
        parts = sorted(tmp_path.glob(f"{resource_type}.*.ndjson"))
        assert len(parts) == -(-count // 10)
        lines = [json.loads(line) for part in parts for line in part.read_text(encoding="utf-8").splitlines()]
        assert lines == population_30.resources[resource_type]


@pytest.mark.parametrize("per_file", [None, 7])
def test_streamed_export_is_byte_identical_to_the_in_memory_one(tmp_path: Path, per_file: int | None) -> None:
    config = PopulationConfig(patients=25, seed=11)
    population = generate_population(config)
    counts = write_bulk_export(population, tmp_path / "memory", max_resources_per_file=per_file)
    summary = stream_bulk_export(config, tmp_path / "stream", max_resources_per_file=per_file)
    assert summary.counts == counts
    assert summary.ground_truth == population.ground_truth
    assert export_digest(tmp_path / "stream") == export_digest(tmp_path / "memory")
    assert len(export_digest(tmp_path / "memory")) > len(RESOURCE_TYPES) or per_file is None


def test_export_imports_into_the_healthlake_stand_in_without_rejections(tmp_path: Path) -> None:
    from patient360.local_aws.healthlake.bulk_import import import_bulk_export

    population = generate_population(PopulationConfig(patients=12, seed=3))
    counts = write_bulk_export(population, tmp_path / "export")
    report = import_bulk_export(tmp_path / "export", tmp_path / "data", "healthlake_db", validate=True)
    assert report.rejected == []
    assert dict(report.loaded) == counts


@pytest.mark.parametrize("bad", [{"patients": -1}, {"patients": 2.5}, {"seed": "x"}, {"as_of": "2026-11-01"}])
def test_bad_config_is_rejected_with_the_field_name(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        PopulationConfig(**bad)


def test_empty_population_writes_nothing(tmp_path: Path) -> None:
    population = generate_population(PopulationConfig(patients=0))
    assert write_bulk_export(population, tmp_path) == {}
    assert list(tmp_path.iterdir()) == []
