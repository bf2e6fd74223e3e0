"""The scheduled DAG: it loads (DagBag), has the expected tasks and order, and runs to success on DuckDB.

Airflow is the optional extra `.[airflow]`; `make test` installs it, so a missing Airflow fails here
(never a skip). Airflow reads its configuration when first imported: it is imported only after the
fixture has pointed AIRFLOW_HOME at a private temp folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from patient360.settings import load_settings, process_environ
from patient360.warehouse import connect_warehouse, relation_name
from simulators.wearables.events import generate_events
from tests.python.support import HEALTHLAKE_DB, PROJECT_DIR

DAGS_DIR = PROJECT_DIR / "orchestration" / "airflow" / "dags"
DAG_ID = "patient360"
BIN = Path(sys.executable).parent


def model_names(folder: str) -> set[str]:
    """The models the DAG builds: all of the folder's but those of the other stream kind (the test env is msk)."""
    other_kind = "enabled=(wearables_stream_kind() == 'kinesis')"
    paths = (PROJECT_DIR / "models" / folder).rglob("*.sql")
    return {path.stem for path in paths if other_kind not in path.read_text()}


def seed_names() -> set[str]:
    return {path.stem for path in (PROJECT_DIR / "seeds").glob("*.csv")}


def build_task(node: str) -> str:
    """cosmos' task id for a model or seed under TestBehavior.BUILD."""
    kind = "seed" if node in seed_names() else "model"
    return f"dbt.{node}_{kind}_build"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "patient360"), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def heart_rate_observations(synthea_dir: Path, per_patient: int = 2) -> list[dict[str, Any]]:
    """Vitals for the sample's patients (the Synthea sample ships no Observation file)."""
    patient_ids = [
        json.loads(line)["id"]
        for line in (synthea_dir / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [
        {
            "resourceType": "Observation",
            "id": f"hr-{index:03d}-{reading}",
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": f"2026-01-{reading + 1:02d}T08:00:00Z",
            "valueQuantity": {"value": 60 + index + reading, "unit": "/min", "system": "http://unitsofmeasure.org",
                              "code": "/min"},
        }
        for index, patient_id in enumerate(patient_ids)
        for reading in range(per_patient)
    ]


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not (BIN / "airflow").exists():
        pytest.fail(f"Airflow is not installed beside {sys.executable}: run `make setup-airflow` (.[airflow])")
    home = tmp_path_factory.mktemp("airflow-home")
    data_dir = tmp_path_factory.mktemp("airflow-data")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # cosmos / airflow usage telemetry: off (no network here, and none wanted)
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_NO_ANALYTICS": "true",
        # cosmos hashes the project folder (DAG versioning, its dbt ls / partial-parse caches): not the venv or
        # the local data under it (hundreds of MB, re-read by every task); the README says so for deployments
        "AIRFLOW__COSMOS__PROJECT_HASH_EXCLUDED_DIRS": ".venv,.local,.mypy_cache,.ruff_cache,.pytest_cache",
        # the first parse runs `dbt ls` (cached afterwards): more than the 30 s default on a loaded machine
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "DO_NOT_TRACK": "true",
        "P360_DATA_DIR": str(data_dir),
        "P360_HEALTHLAKE_DB": HEALTHLAKE_DB,
        "P360_TARGET": "local",
        "P360_DAG_RETRIES": "0",
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in ("P360_FHIR_IMPORT_DIR", "KAFKA_BOOTSTRAP_SERVERS", "FRONT_DESK_MYSQL_HOST"):
            patch.delenv(name, raising=False)
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=process_environ(), capture_output=True, text=True, timeout=300
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        yield process_environ()


@pytest.fixture(scope="module")
def dag(airflow_env: dict[str, str]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}, bag.import_errors
    assert DAG_ID in bag.dag_ids, bag.dag_ids
    return bag.get_dag(DAG_ID)


def test_dag_loads_with_its_schedule(dag: Any) -> None:
    assert dag.catchup is False
    assert dag.schedule == "*/15 * * * *"
    assert dag.max_active_runs == 1
    assert dag.max_active_tasks == 1, "local DuckDB has one writer: the dbt tasks must not run in parallel"
    assert "activation.sync_export" not in dag.task_ids, "the sync task is off unless P360_DAG_SYNC turns it on"


def test_every_model_and_seed_is_a_build_task_with_its_tests(dag: Any) -> None:
    models = model_names("staging") | model_names("intermediate") | model_names("marts")
    assert {"stg_healthlake__patients", "dim_patient"} <= models
    for node in models | seed_names():
        task = dag.get_task(build_task(node))
        assert task.base_cmd == ["build"], node
        assert task.indirect_selection == "cautious", "a model's task must not run tests that need other models"
    cosmos_tasks = {t for t in dag.task_ids if t.startswith("dbt.")}
    for task_id in (*cosmos_tasks, "dbt_source_freshness", "dbt_source_tests"):
        # dbt in the task's process (no interpreter start-up per task), the DuckDB files released when dbt is done
        task = dag.get_task(task_id)
        assert str(task.invocation_mode).lower().endswith("dbt_runner"), task_id
        assert task.env == {"P360_DBT_KEEP_OPEN": "false"}, task_id
    per_node = {build_task(n) for n in models | seed_names()}
    assert per_node <= cosmos_tasks
    # The snapshot (snapshots/) is its own build task, after patient_360 and before what reads it.
    snapshot = "dbt.patient_360_snapshot_snapshot_build"
    assert build_task("patient_360") in dag.get_task(snapshot).upstream_task_ids
    assert snapshot in dag.get_task(build_task("patient_360_sync")).upstream_task_ids
    # Tests between models (relationships, singular tests over several models) run once, after those models.
    between = cosmos_tasks - per_node - {snapshot}
    assert "dbt.relationships_fct_patient_allergies_patient_id__patient_id__ref_dim_patient__test" in between
    for task_id in between:
        assert task_id.endswith("_test"), task_id
        upstream = dag.get_task(task_id).upstream_task_ids
        assert upstream and all(u.endswith("_build") for u in upstream), (task_id, upstream)


def test_ingest_then_freshness_then_source_tests_then_the_models(dag: Any) -> None:
    freshness, source_tests = dag.get_task("dbt_source_freshness"), dag.get_task("dbt_source_tests")
    ingest_tasks = {t for t in dag.task_ids if t.startswith("ingest.")}
    assert "ingest.healthlake_import" in ingest_tasks
    assert freshness.upstream_task_ids == ingest_tasks | {"prepare_local_sources"}
    assert freshness.base_cmd == ["source", "freshness"]
    assert freshness.trigger_rule == "none_failed", "a skipped import must not stop the build"
    assert source_tests.upstream_task_ids == {"dbt_source_freshness"}
    assert source_tests.indirect_selection == "cautious", "source tests must not pull in tests that need models"
    cosmos_tasks = [dag.get_task(t) for t in dag.task_ids if t.startswith("dbt.")]
    for task in cosmos_tasks:
        cosmos_upstream = {u for u in task.upstream_task_ids if u.startswith("dbt.")}
        # the first models (and seeds) start after the source checks; the rest start after the models they use
        assert cosmos_upstream or task.upstream_task_ids == {"dbt_source_tests"}, task.task_id
    for model in model_names("staging"):
        # every model that reads HealthLake itself (the ViewDefinition bases, the staging models still written
        # in SQL) waits for the source checks; a staging model over a ViewDefinition base waits for the base
        upstream = dag.get_task(build_task(model)).upstream_task_ids
        base = build_task("base_healthlake__sof_" + model.removeprefix("stg_healthlake__"))
        if model.startswith("base_healthlake__"):
            assert "dbt_source_tests" in upstream, model
        elif model.startswith("stg_healthlake__"):
            assert (base in upstream) if base in dag.task_ids else ("dbt_source_tests" in upstream), model
    # staging -> intermediate -> marts follows the refs
    assert build_task("stg_healthlake__patients") in dag.get_task(build_task("dim_patient")).upstream_task_ids
    assert build_task("int_allergies_unnested") in dag.get_task(build_task("fct_patient_allergies")).upstream_task_ids
    for model in model_names("intermediate") | model_names("marts"):
        assert "dbt_source_tests" not in dag.get_task(build_task(model)).upstream_task_ids, model


def test_stream_and_replica_hooks_follow_the_cli(dag: Any, airflow_env: dict[str, str]) -> None:
    help_text = cli("--help", env=airflow_env).stdout
    has_ingest = "ingest" in help_text.split("{", 1)[1].split("}", 1)[0].split(",")
    has_replicate = "replicate" in help_text.split("{", 1)[1].split("}", 1)[0].split(",")
    assert ("ingest.stream_refresh" in dag.task_ids) == has_ingest
    assert ("ingest.replicate_once" in dag.task_ids) == has_replicate

    sys.path.insert(0, str(DAGS_DIR))
    try:
        import patient360_dag as module
    finally:
        sys.path.remove(str(DAGS_DIR))
    assert module.hook_enabled("P360_TEST_FLAG", "auto", "ingest", {"ingest", "build"}) is True
    assert module.hook_enabled("P360_TEST_FLAG", "auto", "replicate", {"ingest", "build"}) is False
    assert module.hook_enabled("P360_TEST_FLAG", "off", "ingest", {"ingest"}) is False
    assert module.hook_enabled("P360_TEST_FLAG", "on", "replicate", {"ingest"}) is True
    with pytest.raises(ValueError, match="P360_TEST_FLAG"):
        module.hook_enabled("P360_TEST_FLAG", "maybe", "ingest", {"ingest"})


def run_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_stale_source_stops_the_run_at_the_freshness_check(dag: Any, airflow_env: dict[str, str],
                                                            synthea_dir: Path) -> None:
    """Synthea alone: the Observation table is empty, it has no loaded-at time, dbt calls it stale."""
    imported = cli("healthlake", "import", str(synthea_dir), env=airflow_env)
    assert imported.returncode == 0, imported.stderr[-2000:]
    states = run_states(dag.test())
    assert states["ingest.healthlake_import"] == "skipped"  # no P360_FHIR_IMPORT_DIR yet
    assert states["ingest.stream_refresh"] == "skipped"  # no KAFKA_BOOTSTRAP_SERVERS yet
    assert states["ingest.replicate_once"] == "skipped"  # no FRONT_DESK_MYSQL_HOST yet
    assert states["dbt_source_freshness"] == "failed"
    assert {states[t] for t in dag.task_ids if t.startswith("dbt.")} == {"upstream_failed"}


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from patient360.local_aws.streaming.broker import start_local_broker

    broker = start_local_broker(log_path=tmp_path_factory.mktemp("dag-broker") / "tansu.log")
    yield broker.bootstrap_servers
    broker.stop()


def test_the_dag_runs_to_success_on_duckdb(dag: Any, airflow_env: dict[str, str], synthea_dir: Path,
                                           tmp_path: Path, kafka: str, mariadb_server: Any) -> None:
    """All three sources for real: the stream task lands what the producer sent to a local broker, the replicate
    task catches the replica up with the front desk's MariaDB, freshness passes, every model builds."""
    from patient360.local_aws.streaming.kafka_client import ensure_topic, produce_records
    from simulators.wearables.faults import event_record

    assert {"ingest.stream_refresh", "ingest.replicate_once"} <= set(dag.task_ids), "the CLI has ingest/replicate"
    data_dir = Path(airflow_env["P360_DATA_DIR"])
    source_env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, **mariadb_server.settings.as_env()}
    if not (data_dir / "awsdatacatalog.duckdb").exists():
        imported = cli("healthlake", "import", str(synthea_dir), env=airflow_env)
        assert imported.returncode == 0, imported.stderr[-2000:]
    desk = cli("simulate", "front-desk", "--days", "0.2", "--seed", "5", env={**airflow_env, **source_env})
    assert desk.returncode == 0, desk.stderr[-2000:]
    patient_ids = [json.loads(line)["id"] for line in (synthea_dir / "Patient.000.ndjson").read_text().splitlines()
                   if line.strip()][:3]
    ensure_topic(kafka, "wearables_stream")
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=UTC)
    events = list(generate_events(patient_ids, seed=5, start=now - timedelta(minutes=20), minutes=10))
    produce_records((event_record(e) for e in events), bootstrap_servers=kafka, topic="wearables_stream")
    vitals_dir = tmp_path / "vitals-export"
    vitals_dir.mkdir()
    observations = heart_rate_observations(synthea_dir)
    (vitals_dir / "Observation.000.ndjson").write_text(
        "".join(json.dumps(o) + "\n" for o in observations), encoding="utf-8"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("P360_FHIR_IMPORT_DIR", str(vitals_dir))
        for name, value in source_env.items():
            patch.setenv(name, value)
        dag_run = dag.test()
    states = run_states(dag_run)
    assert str(dag_run.state) == "success", {t: s for t, s in states.items() if s != "success"}
    assert set(states.values()) == {"success"}
    assert set(states) == set(dag.task_ids)

    patients = [line for line in (synthea_dir / "Patient.000.ndjson").read_text().splitlines() if line.strip()]
    with connect_warehouse(load_settings(Path(airflow_env["P360_DATA_DIR"]))) as con:
        assert con.execute(f"select count(*) from {relation_name(con, 'dim_patient')}").fetchone()[0] == len(patients)
        heart_rate_model = relation_name(con, "stg_healthlake__heart_rate_observations")
        heart_rates = con.execute(f"select observation_id, heart_rate_bpm from {heart_rate_model}").fetchall()
        # the stream task landed every produced event, the replicate task synced the desk's table
        events_model = relation_name(con, "stg_wearables__events")
        landed = {r[0] for r in con.execute(f"select event_id from {events_model}").fetchall()}
        appointments = con.execute(
            f"select count(*) from {relation_name(con, 'stg_front_desk__appointments')}"
        ).fetchone()[0]
    assert landed == {e.event_id for e in events}
    assert appointments > 0
    assert sorted(heart_rates) == sorted((o["id"], float(o["valueQuantity"]["value"])) for o in observations)
    with duckdb.connect(str(Path(airflow_env["P360_DATA_DIR"]) / "awsdatacatalog.duckdb"), read_only=True) as con:
        jobs = con.execute("select source from healthlake_import_log.jobs order by submitted_at").fetchall()
    assert jobs[-1] == (str(vitals_dir),), "the DAG's import task ran the configured folder"
