"""The front-desk operations simulator on its own (no database): seeded, realistic, self-consistent."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from simulators.front_desk.operations import (
    NO_SHOW_GRACE,
    FrontDeskSimulator,
    clean_phone,
    gender_code,
    ground_truth_rows,
)
from simulators.front_desk.patients import synthetic_patients
from simulators.front_desk.schema import COLUMNS, STATUSES

START = datetime(2026, 3, 2, 7, 30)


def simulate(seed: int, **kwargs: object) -> tuple[FrontDeskSimulator, list]:
    simulator = FrontDeskSimulator(synthetic_patients(120, seed=7), seed=seed, start=START, **kwargs)  # type: ignore[arg-type]
    operations = [*simulator.history(), *simulator.run(days=2)]
    return simulator, operations


def test_same_seed_same_operations_and_other_seed_differs() -> None:
    first, ops_a = simulate(11)
    second, ops_b = simulate(11)
    third, ops_c = simulate(12)
    assert ops_a == ops_b
    assert ground_truth_rows(first) == ground_truth_rows(second)
    assert ground_truth_rows(first) != ground_truth_rows(third)


def test_day_contains_every_kind_of_operation_and_valid_statuses() -> None:
    simulator, operations = simulate(5)
    kinds = Counter(op.kind for op in operations)
    for kind in ("book", "reschedule", "cancel", "arrived", "fulfilled", "noshow", "phone_correction", "delete"):
        assert kinds[kind] > 0, f"no {kind} operation in two simulated days: {dict(kinds)}"
    statuses = Counter(row["status"] for row in simulator.rows.values())
    assert set(statuses) <= set(STATUSES)
    assert {"booked", "fulfilled", "cancelled", "noshow"} <= set(statuses)
    for (patient_id, when), row in simulator.rows.items():
        assert (row["patient_id"], row["appointment_datetime"]) == (patient_id, when)
        assert row["booked_at"] <= row["updated_at"]
        # the desk resolves due appointments: nothing stays booked past its slot (+ the no-show grace)
        assert row["status"] != "booked" or when + NO_SHOW_GRACE > simulator.clock
        assert set(row) == set(COLUMNS)
        assert row["phone_number"] is None or len(row["phone_number"]) <= 15


def test_statements_affect_exactly_the_ground_truth_rows() -> None:
    simulator, operations = simulate(3)
    inserted = sum(expected for op in operations if op.kind in ("book", "walk_in", "history_load")
                   for _, _, expected in op.statements)
    deleted = sum(1 for op in operations if op.kind == "delete")
    assert len(simulator.rows) == inserted - deleted


def test_mrn_only_share_and_unknown_patients() -> None:
    patients = synthetic_patients(200, seed=1)
    ids = {p.patient_id for p in patients}
    mrns = {p.mrn for p in patients}
    simulator = FrontDeskSimulator(patients, seed=2, start=START, mrn_only_share=0.25, unknown_share=0.05)
    list(simulator.history())
    list(simulator.run(days=1))
    desk_ids = {key[0] for key in simulator.rows}
    by_mrn = desk_ids & mrns
    unknown = desk_ids - ids - mrns
    assert by_mrn, "no patient known only by MRN"
    assert 0.1 < len({p["patient_id"] for p in simulator.desk_patients} & mrns) / len(patients) < 0.4
    assert unknown and all(u.startswith("FD-") for u in unknown)


def test_bad_input_is_named_without_patient_data() -> None:
    with pytest.raises(ValueError, match="patient #1 has neither"):
        FrontDeskSimulator([("a", None, "male", date(1970, 1, 1), None), (None, None, "female", None, None)],
                           seed=1, start=START)
    with pytest.raises(ValueError, match="mrn_only_share"):
        FrontDeskSimulator(synthetic_patients(3, 1), seed=1, start=START, mrn_only_share=2)


def test_phone_and_gender_cleaning() -> None:
    assert clean_phone("555-123-4567") == "5551234567"
    assert clean_phone("+1 (555) 123-4567 x89") == "+15551234567"
    assert clean_phone("") is None
    assert gender_code("female") == "F" and gender_code("other") == "O" and gender_code(None) is None


def test_patients_from_healthlake_give_the_desk_the_fhir_population(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from patient360.local_aws.healthlake.bulk_import import import_bulk_export
    from patient360.local_aws.healthlake.catalog import front_desk_patients as patients_from_healthlake

    people = synthetic_patients(12, seed=4)
    mr = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
    ss = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}
    resources = [
        {"resourceType": "Patient", "id": p.patient_id, "gender": p.gender, "birthDate": p.birth_date.isoformat(),
         "identifier": [{"type": ss, "value": "999-00-0000"}, {"type": mr, "value": p.mrn}],
         "telecom": [{"system": "email", "value": "x@example.org"}, {"system": "phone", "value": p.phone}]}
        for p in people
    ]
    resources[0]["birthDate"] = "1970-05"  # partial FHIR date: the desk has no full date of birth
    (tmp_path / "Patient.000.ndjson").write_text("\n".join(json.dumps(r) for r in resources) + "\n")
    import_bulk_export(tmp_path, tmp_path, "hl_test")
    loaded = {p.patient_id: p for p in patients_from_healthlake(tmp_path / "awsdatacatalog.duckdb", "hl_test")}
    assert set(loaded) == {p.patient_id for p in people}
    for person in people[1:]:
        assert loaded[person.patient_id] == person
    assert loaded[people[0].patient_id].birth_date is None
    assert loaded[people[0].patient_id].mrn == people[0].mrn
