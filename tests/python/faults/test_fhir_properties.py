"""FHIR bad input, property-based: generated Patients (missing optional fields, empty vs absent arrays,
several names, unknown and nested extensions, 10k+ character strings, unicode names with combining marks,
right-to-left scripts and emoji) with AllergyIntolerances and Conditions pointing at them, mixed with bad
lines (no id, wrong resourceType, not JSON, invalid R4B under --validate) and the real Synthea sample:
import -> dbt build. No crash; every valid patient reaches patient_360 with its id, preferred name and
allergy count; every bad line is in the rejection log with a reason.

Bounded: each example is one import and one dbt build of a whole batch (not one build per resource).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from tests.python import support
from tests.python.faults.conftest import Figures
from tests.python.support import HEALTHLAKE_DB

pytestmark = [pytest.mark.slow, pytest.mark.faults]

MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
SPECIAL_TEXT = [
    "Zoë", "José", "e\u0301le\u0300ve",  # combining marks
    "مريم", "שָׁלוֹם", "李小龙", "Ngô Bảo Châu", "👩\u200d⚕️ Ana", "Ω≈ç√", "O'Brien", 'say "hi"', "back\\slash",
    "tab\there", "new\nline", "x" * 10_050, "名" * 12_000,
]
_ids = itertools.count()
_dirs = itertools.count()
TOTALS: Counter[str] = Counter()

text = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=25),
)
maybe_list = lambda inner: st.one_of(st.none(), st.just([]), st.lists(inner, min_size=1, max_size=3))  # noqa: E731
human_name = st.fixed_dictionaries(
    {},
    optional={
        "use": st.sampled_from(["official", "usual", "old", "maiden", "nickname", "anonymous"]),
        "family": text,
        "given": st.lists(text, min_size=0, max_size=3),
        "prefix": st.lists(text, min_size=1, max_size=2),
        "text": text,
    },
)
value_x = st.one_of(
    st.builds(lambda v: {"valueString": v}, text),
    st.builds(lambda v: {"valueInteger": v}, st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda v: {"valueBoolean": v}, st.booleans()),
    st.builds(lambda v: {"valueCodeableConcept": {"text": v}}, text),
)
extension = st.recursive(
    st.builds(lambda url, v: {"url": url, **v}, st.sampled_from(["urn:x:a", "http://example.org/ext/b"]), value_x),
    lambda children: st.builds(lambda url, kids: {"url": url, "extension": kids},
                               st.just("http://example.org/ext/nested"), st.lists(children, min_size=1, max_size=3)),
    max_leaves=6,
)
contact = st.fixed_dictionaries({"system": st.sampled_from(["phone", "email", "fax"]), "value": text},
                                optional={"use": st.sampled_from(["home", "work", "mobile"]),
                                          "rank": st.integers(1, 5)})


@st.composite
def patient(draw: st.DrawFn) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": f"gen-{next(_ids)}"}
    for key, strategy in (("name", maybe_list(human_name)), ("telecom", maybe_list(contact)),
                          ("extension", maybe_list(extension)),
                          ("address", maybe_list(st.fixed_dictionaries({}, optional={"city": text, "line": st.lists(
                              text, max_size=2)}))),
                          ("gender", st.one_of(st.none(), st.sampled_from(["male", "female", "other", "unknown"]))),
                          ("birthDate", st.one_of(st.none(), st.sampled_from(["1980", "1980-05", "1980-05-17",
                                                                               "2024-02-29"]))),
                          ("identifier", st.one_of(st.none(), st.builds(
                              lambda v: [{"type": MR, "value": v}], st.from_regex(r"MRN-[0-9]{4,8}", fullmatch=True)))),
                          ("deceasedBoolean", st.one_of(st.none(), st.booleans()))):
        value = draw(strategy)
        if value is not None:
            resource[key] = value
    return resource


def clinical(resource_type: str, patient_id: str, n: int, with_reaction: bool) -> dict[str, Any]:
    reference = {"reference": f"Patient/{patient_id}"}
    if resource_type == "AllergyIntolerance":
        allergy: dict[str, Any] = {
            "resourceType": resource_type, "id": f"{patient_id}-a{n}", "patient": reference,
            "code": {"text": SPECIAL_TEXT[n % len(SPECIAL_TEXT)][:200]},
            "extension": [{"url": "urn:unknown", "extension": [{"url": "x", "valueString": "y"}]}],
        }
        if with_reaction:
            allergy["reaction"] = [{"manifestation": [{"text": "hives"}]}]
        return allergy
    return {"resourceType": resource_type, "id": f"{patient_id}-c{n}", "subject": reference,
            "code": {"text": "something"}}


def preferred_name(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    """The model's rule: official, then usual, then unlabelled/other, then old, then maiden; array order."""
    rank = {"official": 1, "usual": 2, "old": 8, "maiden": 9}
    names = resource.get("name") or []
    if not names:
        return None, None
    best = min(enumerate(names), key=lambda item: (rank.get(item[1].get("use"), 3), item[0]))[1]
    given = best.get("given") or []
    return (given[0] if given else None), best.get("family")


def bad_lines(good: dict[str, Any]) -> list[str]:
    no_id = {k: v for k, v in good.items() if k != "id"}
    wrong_type = {**good, "resourceType": "Patinet", "id": "bad-type"}
    return [json.dumps(no_id), json.dumps(wrong_type), json.dumps(good)[:-7], "not json at all", "[]",
            json.dumps({**good, "id": "bad id with spaces"})]


@settings(max_examples=2, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(patients=st.lists(patient(), min_size=25, max_size=35),
       allergy_counts=st.lists(st.integers(0, 3), min_size=35, max_size=35))
def test_generated_and_synthea_patients_all_reach_patient_360(
    tmp_path: Path, synthea_dir: Path, patients: list[dict[str, Any]], allergy_counts: list[int]
) -> None:
    data_dir = tmp_path / f"example-{next(_dirs)}"
    export = data_dir / "export"
    export.mkdir(parents=True)
    allergies = [clinical("AllergyIntolerance", p["id"], n, n % 2 == 0)
                 for p, count in zip(patients, allergy_counts, strict=False) for n in range(count)]
    conditions = [clinical("Condition", p["id"], 0, False) for p in patients[::3]]
    bad = bad_lines(patients[0])
    lines = [json.dumps(p, ensure_ascii=False) for p in patients]
    for position, line in enumerate(bad):  # bad lines between good ones
        lines.insert(position * 3 + 1, line)
    (export / "Patient.000.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (export / "AllergyIntolerance.000.ndjson").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in allergies), encoding="utf-8")
    (export / "Condition.000.ndjson").write_text(
        "\n".join(json.dumps(c) for c in conditions) + "\n" + json.dumps(allergies[0] if allergies else {}) + "\n",
        encoding="utf-8")

    report = import_bulk_export(export, data_dir, HEALTHLAKE_DB)
    expected_rejects = len(bad) + 1  # + the AllergyIntolerance (or {}) in the Condition file
    assert len(report.rejected) == expected_rejects, [(r.file, r.line, r.reason) for r in report.rejected]
    assert all(r.reason for r in report.rejected)
    assert report.loaded["Patient"] == len(patients)
    synthea = import_bulk_export(synthea_dir, data_dir, HEALTHLAKE_DB)
    assert not synthea.rejected

    # --validate: R4B-invalid resources are rejected with the place and a reason, valid ones load
    strict = data_dir / "strict" / "Patient.000.ndjson"
    strict.parent.mkdir()
    invalid = [{"resourceType": "Patient", "id": "strict-1", "active": "perhaps"},
               {"resourceType": "Patient", "id": "strict-2", "birthDate": "17/05/1980"},
               {"resourceType": "Patient", "id": "strict-3", "name": "not a list"}]
    strict.write_text("\n".join(json.dumps(r) for r in [*invalid, {"resourceType": "Patient", "id": "strict-ok"}])
                      + "\n", encoding="utf-8")
    validated = import_bulk_export(strict, data_dir, HEALTHLAKE_DB, validate=True)
    assert [r.line for r in validated.rejected] == [1, 2, 3]
    assert all(r.reason.startswith("invalid FHIR R4: ") for r in validated.rejected)
    assert "perhaps" not in " ".join(r.reason for r in validated.rejected), "a reason quotes the data"

    build = support.run_dbt(data_dir, "build")
    assert build.returncode == 0, build.stdout[-5000:]

    synthea_patients = [json.loads(line) for line in (synthea_dir / "Patient.000.ndjson").read_text().splitlines()]
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        got = {row[0]: row[1:] for row in con.execute(
            "select patient_id, given_name, family_name, allergy_count from main_marts.patient_360").fetchall()}
    with duckdb.connect(str(data_dir / "awsdatacatalog.duckdb"), read_only=True) as con:
        (logged,) = con.execute(
            "select count(*) from healthlake_import_log.rejected_resources where reason <> ''"
        ).fetchone()
    expected_allergies = Counter(a["patient"]["reference"].split("/")[1] for a in allergies)
    for p in patients:
        assert p["id"] in got, f"{p['id']} did not reach patient_360"
        given, family, allergy_count = got[p["id"]]
        assert (given, family) == preferred_name(p), p["id"]
        assert allergy_count == expected_allergies[p["id"]], p["id"]
    for p in synthea_patients:
        assert p["id"] in got and got[p["id"]][:2] == preferred_name(p)
    assert "strict-ok" in got and not {"strict-1", "strict-2", "strict-3", "bad-type"} & set(got)
    assert logged == expected_rejects + len(validated.rejected)
    checked = len(patients) + len(synthea_patients) + len(allergies) + len(conditions)
    TOTALS.update(examples=1, resources_in=checked + expected_rejects + len(invalid) + 1, checked=checked,
                  bad_lines=expected_rejects, invalid_r4b=len(invalid),
                  long_strings=sum("x" * 10_050 in json.dumps(p) or "名" * 12_000 in json.dumps(p, ensure_ascii=False)
                                   for p in patients))


def test_fhir_property_figures(record_figures) -> None:  # type: ignore[no-untyped-def]
    """Runs after the property test (file order): its totals, as figures."""
    if not TOTALS["examples"]:
        pytest.skip("the property test did not run")
    record_figures(Figures(
        area="fhir", test=f"generated + Synthea resources ({TOTALS['examples']} examples)",
        faults_injected={"bad_lines": TOTALS["bad_lines"], "invalid_r4b": TOTALS["invalid_r4b"],
                         "patients_with_10k_strings": TOTALS["long_strings"]},
        records_in=TOTALS["resources_in"], records_checked=TOTALS["checked"], lost=0, duplicated=0,
        notes="every valid patient in patient_360 with its preferred name and allergy count; bad lines logged",
    ))
