"""Simulated population -> bulk export -> HealthLake stand-in -> dbt build, checked against the
simulator's own ground truth (what it decided, not what it wrote)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from patient360.settings import load_settings
from patient360.warehouse import connect_warehouse, relation_name
from simulators.fhir.population import Population, PopulationConfig, generate_population, write_bulk_export
from tests.python.support import HEALTHLAKE_DB, dbt_target, run_dbt


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Population, duckdb.DuckDBPyConnection, Path]]:
    data_dir = tmp_path_factory.mktemp("population")
    population = generate_population(PopulationConfig(patients=60, seed=2026))
    counts = write_bulk_export(population, data_dir / "export")
    report = import_bulk_export(data_dir / "export", data_dir, HEALTHLAKE_DB, validate=True)
    assert not report.rejected, report.rejected[:3]
    assert dict(report.loaded) == {t: n for t, n in counts.items() if n}
    build = run_dbt(data_dir, "build")
    assert build.returncode == 0, build.stdout[-4000:]
    # Analyses compile now: dbt needs the warehouse file, which the read-only connection below holds.
    compiled = run_dbt(data_dir, "compile", "--select", "resource_type:analysis")
    assert compiled.returncode == 0, compiled.stdout[-4000:]
    docs = run_dbt(data_dir, "docs", "generate")
    assert docs.returncode == 0, docs.stdout[-4000:]
    con = connect_warehouse(load_settings(data_dir))
    yield population, con, data_dir
    con.close()


def by_patient(con: duckdb.DuckDBPyConnection, model: str, columns: str) -> dict[str, tuple]:
    return {
        row[0]: row[1:]
        for row in con.execute(f"select patient_id, {columns} from {relation_name(con, model)}").fetchall()
    }


def test_patients_demographics_match_ground_truth(built) -> None:
    population, con, _ = built
    staged = by_patient(
        con, "dim_patient",
        "mrn, given_name, family_name, gender, birth_date, is_deceased, phone_number, race, ethnicity",
    )
    assert set(staged) == set(population.ground_truth)
    for patient_id, truth in population.ground_truth.items():
        assert staged[patient_id] == (
            truth.mrn, truth.given_name, truth.family_name, truth.gender, truth.birth_date, truth.deceased,
            truth.phone, truth.race, truth.ethnicity,
        ), patient_id


def test_allergies_match_ground_truth_with_and_without_reactions(built) -> None:
    population, con, _ = built
    rows = con.execute(
        f"select patient_id, has_reaction from {relation_name(con, 'stg_healthlake__allergy_intolerances')}"
    ).fetchall()
    rows_per_patient = Counter(patient_id for patient_id, _ in rows)
    summary = by_patient(
        con, "int_allergies_summarised", "allergy_count, allergies_without_reaction_count, has_anaphylaxis"
    )
    truths = population.ground_truth.values()
    assert any(t.allergies_without_reaction for t in truths), "population should hold allergies without reaction"
    assert any(t.allergy_count == 0 for t in truths), "population should hold patients without allergies"
    for truth in truths:
        assert rows_per_patient.get(truth.patient_id, 0) == truth.allergy_reaction_codings, truth.patient_id
        if truth.allergy_count:
            assert summary[truth.patient_id] == (
                truth.allergy_count, truth.allergies_without_reaction, truth.anaphylaxis_allergy_count > 0
            )
        else:
            assert truth.patient_id not in summary


def test_conditions_immunizations_and_heart_rates_match_ground_truth(built) -> None:
    population, con, _ = built
    conditions = by_patient(con, "int_conditions_summarised", "condition_count, active_condition_count")
    immunizations = by_patient(con, "int_immunizations_summarised", "immunization_count, last_immunization_date")
    heart_rates = Counter(
        patient_id for (patient_id,) in con.execute(
            f"select patient_id from {relation_name(con, 'stg_healthlake__heart_rate_observations')}"
        ).fetchall()
    )
    for truth in population.ground_truth.values():
        assert conditions.get(truth.patient_id, (0, 0)) == (truth.condition_count, truth.active_condition_count)
        assert immunizations.get(truth.patient_id, (0, None)) == (
            truth.immunization_count, truth.last_immunization_date
        )
        assert heart_rates.get(truth.patient_id, 0) == truth.heart_rate_observation_count


def test_allergy_fact_keeps_every_allergy_row(built) -> None:
    population, con, _ = built
    fact_rows = con.execute(
        f"select count(distinct allergy_id), count(*) from {relation_name(con, 'fct_patient_allergies')}"
    ).fetchone()
    allergies = population.resources["AllergyIntolerance"]
    category_multiplier = {a["id"]: max(1, len(a.get("category", []))) for a in allergies}
    truth_rows = sum(t.allergy_reaction_codings for t in population.ground_truth.values())
    assert fact_rows[0] == len(allergies)
    # Every staging reaction row appears once per category of its allergy (an allergy without any once).
    staged = con.execute(
        f"select allergy_id, count(*) from {relation_name(con, 'stg_healthlake__allergy_intolerances')} group by 1"
    ).fetchall()
    assert sum(n for _, n in staged) == truth_rows
    assert fact_rows[1] == sum(n * category_multiplier[a] for a, n in staged)


def test_analyst_view_reveals_no_name_phone_mrn_or_full_birth_date(built) -> None:
    population, con, _ = built
    schema = relation_name(con, "dim_patient").split(".")[0].strip('"')
    analyst_rows = con.execute(f"select * from {schema}_analyst.dim_patient").fetchall()
    clear_rows = con.execute(f"select count(*) from {schema}.dim_patient").fetchone()[0]
    assert len(analyst_rows) == clear_rows == len(population.ground_truth)
    shown = {str(value) for row in analyst_rows for value in row if value is not None}
    for truth in population.ground_truth.values():
        secrets = {truth.given_name, truth.family_name, truth.phone, truth.mrn}
        if truth.birth_date.timetuple().tm_yday != 1:  # a 1 January birthday is its own year
            secrets.add(str(truth.birth_date))
        assert not secrets & shown, truth.patient_id
    # Masked, not dropped: birth year and the patient key stay usable for analysis.
    years = dict(con.execute(
        f"select patient_id, extract(year from birth_date) from {schema}_analyst.dim_patient"
    ).fetchall())
    assert years == {t.patient_id: t.birth_date.year for t in population.ground_truth.values()}


def compiled_analysis(data_dir: Path, name: str) -> str:
    [path] = (dbt_target(data_dir) / "compiled").rglob(f"analyses/**/{name}.sql")
    return path.read_text(encoding="utf-8")


def test_reference_allergy_analysis_runs_on_the_marts(built) -> None:
    population, con, data_dir = built
    result = con.execute(compiled_analysis(data_dir, "patient_allergies")).fetchall()
    fact_rows = con.execute(f"select count(*) from {relation_name(con, 'fct_patient_allergies')}").fetchone()[0]
    assert len(result) == fact_rows > 0
    assert [(r[0], r[6]) for r in result] == sorted((r[0], r[6]) for r in result)
    with_allergies = {t.patient_id for t in population.ground_truth.values() if t.allergy_count}
    assert {r[0] for r in result} == with_allergies


def test_docs_describe_every_model_and_column(built) -> None:
    _, _, data_dir = built
    manifest = json.loads((dbt_target(data_dir) / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((dbt_target(data_dir) / "catalog.json").read_text(encoding="utf-8"))
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    undocumented = [m["name"] for m in models if not m["description"].strip()]
    assert not undocumented
    for model in models:
        catalog_columns = {c.lower() for c in catalog["nodes"][model["unique_id"]]["columns"]}
        described = {name.lower() for name, col in model["columns"].items() if col["description"].strip()}
        assert catalog_columns <= described, (model["name"], catalog_columns - described)
    assert any(e["name"] == "analyst_patient_allergies" for e in manifest["exposures"].values())
