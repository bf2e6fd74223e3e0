"""Staging re-authored as ViewDefinitions gives the same rows as the hand-written models it replaced (kept as
disabled reference models in tests/reference_staging/): on the Synthea sample and on the simulator population
(one dbt build of just those models and their tests per dataset, the references switched on)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from patient360.sql_on_fhir._healthlake import import_bulk_export
from patient360.warehouse import connect_warehouse, relation_name
from simulators.fhir.population import PopulationConfig, generate_population, write_bulk_export
from tests.python.support import HEALTHLAKE_DB, run_dbt, settings_for, synthea_sample

VIEWS = (
    "immunizations", "conditions", "encounters", "heart_rate_observations",
    "allergy_categories", "allergy_intolerances", "patients",
)
SELECTION = [
    *(f"reference_stg_healthlake__{v}" for v in VIEWS),
    *(f"+stg_healthlake__{v}" for v in VIEWS),
    *(f"assert_stg_healthlake__{v}_matches_reference" for v in VIEWS),
]


def build_and_compare(data_dir: Path) -> dict[str, int]:
    """dbt build of the hand-written and ViewDefinition staging with their tests (the differential ones
    included); returns the row count of each ViewDefinition-based model."""
    build = run_dbt(data_dir, "build", "--select", *SELECTION, "--exclude", "int_+", "test_name:relationships",
                    "--vars", "{p360_reference_staging: true}")
    assert build.returncode == 0, build.stdout[-4000:]
    for view in VIEWS:
        assert f"PASS assert_stg_healthlake__{view}_matches_reference" in build.stdout, build.stdout[-4000:]
    con: duckdb.DuckDBPyConnection = connect_warehouse(settings_for(data_dir))
    try:
        counts: dict[str, int] = {}
        for view in VIEWS:
            (counts[view],) = con.execute(
                f"select count(*) from {relation_name(con, f'stg_healthlake__{view}')}"
            ).fetchall()[0]
        return counts
    finally:
        con.close()


@pytest.mark.slow
def test_synthea_sample_rows_are_identical(tmp_path: Path) -> None:
    import_bulk_export(synthea_sample(), tmp_path, HEALTHLAKE_DB)  # skips, naming P360_SYNTHEA_DIR, when absent
    counts = build_and_compare(tmp_path)
    # The sample has no heart-rate observations: that view is proven on the population below.
    assert {v: counts[v] for v in VIEWS[:4]} == {
        "immunizations": 161, "conditions": 555, "encounters": 1215, "heart_rate_observations": 0
    }
    assert counts["allergy_intolerances"] >= 11  # one row per allergy at least (11 in the sample)
    assert counts["patients"] == 13


@pytest.mark.slow
def test_simulator_population_rows_are_identical(tmp_path: Path) -> None:
    population = generate_population(PopulationConfig(patients=60, seed=2026))
    written = write_bulk_export(population, tmp_path / "export")
    import_bulk_export(tmp_path / "export", tmp_path, HEALTHLAKE_DB)
    counts = build_and_compare(tmp_path)
    assert counts["patients"] == written["Patient"]
    assert {v: counts[v] for v in VIEWS[:3]} == {
        "immunizations": written.get("Immunization", 0),
        "conditions": written.get("Condition", 0),
        "encounters": written.get("Encounter", 0),
    }
    assert min(counts.values()) > 0  # heart-rate rows too: the differential compares real rows
