"""patient360 on a schedule: land the sources, check their freshness, build staging -> intermediate -> marts.

    ingest.healthlake_import ─┐
    ingest.stream_refresh    ─┼─> dbt_source_freshness ─> dbt_source_tests ─> dbt (cosmos: seeds and models,
    ingest.replicate_once    ─┘                                                    each with its own tests)
                                                                          ─> activation.sync_export (optional)

* Ingestion steps call the ``patient360`` CLI. ``stream_refresh`` (``patient360 ingest``: land what is new on
  the topic, then stop) and ``replicate_once`` (``patient360 replicate --once``: zero-ETL catch-up) exist when the
  installed CLI has those subcommands (read from ``patient360 --help``) or when forced on by config; they are
  skipped at run time when their source is not configured (``KAFKA_BOOTSTRAP_SERVERS`` or, with
  P360_STREAM_KIND=kinesis, ``KINESIS_ENDPOINT_URL``,
  ``FRONT_DESK_MYSQL_HOST``): on AWS, MSK streaming ingestion and zero-ETL need no task at all.
* ``dbt source freshness`` fails the run when a source is past its ``error_after`` (warnings only log).
* The dbt project is rendered by astronomer-cosmos (``DbtTaskGroup``, ``dbt ls`` at parse time) and run by
  this environment's dbt (ExecutionMode.LOCAL), in the task's own process (dbtRunner) when dbt is importable.

Configuration (environment variables; nothing secret in this file):
  P360_TARGET               local (DuckDB under P360_DATA_DIR, default) | redshift
  P360_REDSHIFT_CONN_ID     redshift: an Airflow connection id (cosmos RedshiftUserPasswordProfileMapping);
                            unset, profiles/profiles.yml reads REDSHIFT_HOST/_USER/_PASSWORD/_DATABASE/_SCHEMA
  P360_FHIR_IMPORT_DIR      bulk-export NDJSON folder imported into HealthLake on each run (unset: skipped)
  P360_DAG_STREAM_REFRESH   auto (default: when the CLI has `ingest`) | on | off
  P360_DAG_REPLICATE        auto (default: when the CLI has `replicate`) | on | off
  P360_DAG_SYNC             off (default) | on | auto: `patient360 sync export` after the build (the incremental
                            sync of patient_360 to P360_SYNC_DESTINATION, issue 17)
  P360_DAG_STREAM_REFRESH_ARGS, P360_DAG_REPLICATE_ARGS, P360_DAG_SYNC_ARGS  the hooks' CLI arguments
  KAFKA_BOOTSTRAP_SERVERS, FRONT_DESK_MYSQL_*  where the hooks read from (unset: the hook is skipped)
  P360_DAG_SCHEDULE         cron (default */15 * * * *)
  P360_DAG_TEST_BEHAVIOR    build (default: a `dbt build` task per model) | after_each (run, then test task)
  P360_CLI, P360_DBT        paths of the patient360 and dbt executables (default: beside this Python, else PATH);
                            set P360_DBT to run dbt from another virtualenv (then always as a subprocess)
  P360_DBT_INVOCATION       auto (default: subprocess on local DuckDB, in-process on redshift) | dbt_runner | subprocess
  P360_PROJECT_DIR          the dbt project (default: the repository holding this file)
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, TaskGroup
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection
from cosmos.operators.local import DbtSourceLocalOperator, DbtTestLocalOperator

from patient360.local_aws.attachments import ensure_attached_sources
from patient360.settings import load_dag_settings, load_settings

DAG_ID = "patient360"
SETTINGS = load_dag_settings()  # every variable the DAG reads, declared in patient360/settings.py
PROJECT_DIR = SETTINGS.project_dir
PROFILE_NAME = "patient360"  # profiles/profiles.yml and dbt_project.yml
SKIP_EXIT_CODE = 99  # BashOperator's skip_on_exit_code


def executable(configured: str | None, name: str) -> str:
    """An explicit path (setting), else the one installed beside this Python (the project venv), else PATH."""
    if configured:
        return configured
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def cli_subcommands(cli: str) -> set[str]:
    """Subcommands the installed CLI offers, read from the `{a,b,c}` choice list of `patient360 --help`."""
    try:
        completed = subprocess.run([cli, "--help"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    match = re.search(r"\{([a-z0-9_,-]+)\}", completed.stdout)
    return set(match.group(1).split(",")) if match else set()


def hook_enabled(setting_name: str, value: str, subcommand: str, available: set[str]) -> bool:
    setting = value.strip().lower()
    if setting not in {"auto", "on", "off"}:
        raise ValueError(f"{setting_name} must be auto, on or off, not {setting!r}")
    if setting == "auto":
        return subcommand in available
    return setting == "on"


def dbt_invocation() -> InvocationMode:
    """How cosmos calls dbt: in the task's process (cosmos' fast default: no interpreter start-up, dbt imported
    once) when this environment has dbt and no other dbt executable is configured; else a subprocess. In-process
    on DuckDB, the profile must release the files when dbt is done (``DBT_ENV``)."""
    setting = SETTINGS.dbt_invocation.strip().lower()
    if setting == "auto":
        in_process = importlib.util.find_spec("dbt") is not None and not SETTINGS.dbt
        return InvocationMode.DBT_RUNNER if in_process else InvocationMode.SUBPROCESS
    try:
        return InvocationMode(setting)
    except ValueError:
        raise ValueError(f"P360_DBT_INVOCATION must be auto, dbt_runner or subprocess, not {setting!r}") from None


def profile_config(target: str) -> ProfileConfig:
    if target == "redshift" and SETTINGS.redshift_conn_id:
        from cosmos.profiles import RedshiftUserPasswordProfileMapping

        return ProfileConfig(
            profile_name=PROFILE_NAME,
            target_name=target,
            profile_mapping=RedshiftUserPasswordProfileMapping(
                conn_id=SETTINGS.redshift_conn_id,
                profile_args={"schema": SETTINGS.redshift_schema, "ra3_node": True},
            ),
        )
    if target not in {"local", "redshift"}:
        raise ValueError(f"P360_TARGET must be local or redshift, not {target!r}")
    return ProfileConfig(
        profile_name=PROFILE_NAME, target_name=target, profiles_yml_filepath=PROJECT_DIR / "profiles" / "profiles.yml"
    )


def prepare_local_sources() -> None:
    ensure_attached_sources(load_settings())


def cli_task(task_id: str, cli: str, arguments: str, required_env: str) -> BashOperator:
    """A CLI step, skipped (exit SKIP_EXIT_CODE) when the variable naming its source is not set."""
    return BashOperator(
        task_id=task_id,
        bash_command=(
            f'if [ -z "${{{required_env}:-}}" ]; then echo "{required_env} is not set: nothing to read"; '
            f"exit {SKIP_EXIT_CODE}; fi; {shlex.quote(cli)} {arguments}"
        ),
        skip_on_exit_code=SKIP_EXIT_CODE,
        cwd=str(PROJECT_DIR),
    )


# (task id, on/off/auto setting, CLI arguments: the first word is the subcommand looked for in --help,
#  the variable that must name the source for the step to run)
HOOKS = [
    ("stream_refresh", "P360_DAG_STREAM_REFRESH", SETTINGS.hook("P360_DAG_STREAM_REFRESH_ARGS"),
     SETTINGS.stream_source_variable),  # KAFKA_BOOTSTRAP_SERVERS, or KINESIS_ENDPOINT_URL (P360_STREAM_KIND)
    ("replicate_once", "P360_DAG_REPLICATE", SETTINGS.hook("P360_DAG_REPLICATE_ARGS"), "FRONT_DESK_MYSQL_HOST"),
]
TARGET = SETTINGS.target
CLI = executable(SETTINGS.cli, "patient360")
DBT = executable(SETTINGS.dbt, "dbt")
AVAILABLE = cli_subcommands(CLI)
PROFILE = profile_config(TARGET)
INVOCATION = dbt_invocation()
# dbt-duckdb keeps its files open after dbt by default: in the task's process that would hold DuckDB's one writer
# lock against the ingestion steps (profiles/profiles.yml, P360_DBT_KEEP_OPEN).
DBT_ENV = {"P360_DBT_KEEP_OPEN": "false"} if INVOCATION == InvocationMode.DBT_RUNNER else {}

with DAG(
    dag_id=DAG_ID,
    description="HealthLake / front desk / wearables -> freshness check -> dbt staging, intermediate, marts + tests",
    schedule=SETTINGS.schedule,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # DuckDB has one writer per file: on the local target the dbt tasks run one at a time.
    max_active_tasks=1 if TARGET == "local" else 8,
    default_args={"retries": SETTINGS.retries, "retry_delay": timedelta(minutes=1)},
    tags=["patient360", "dbt", TARGET],
) as dag:
    with TaskGroup("ingest", tooltip="land new source data") as ingest:
        # Skipped (exit 99) when no folder is configured; downstream still runs (trigger rule none_failed).
        BashOperator(
            task_id="healthlake_import",
            bash_command=(
                'if [ -z "${P360_FHIR_IMPORT_DIR:-}" ]; then echo "P360_FHIR_IMPORT_DIR is not set: nothing to '
                f'import"; exit {SKIP_EXIT_CODE}; fi; '
                f'{shlex.quote(CLI)} healthlake import "$P360_FHIR_IMPORT_DIR"'
            ),
            skip_on_exit_code=SKIP_EXIT_CODE,
            cwd=str(PROJECT_DIR),
        )
        for task_id, setting, arguments, required_env in HOOKS:
            if hook_enabled(setting, SETTINGS.hook(setting), arguments.split()[0], AVAILABLE):
                cli_task(task_id, CLI, arguments, required_env)

    ingest_done: list = [ingest]
    if TARGET == "local":
        # DuckDB cannot ATTACH a missing file read-only: a source that has delivered nothing yet still needs its
        # (empty) file for dbt to start (`ensure_attached_sources`, as the CLI does before dbt).
        ingest_done.append(PythonOperator(task_id="prepare_local_sources", python_callable=prepare_local_sources))

    freshness = DbtSourceLocalOperator(
        task_id="dbt_source_freshness",
        project_dir=str(PROJECT_DIR),
        profile_config=PROFILE,
        dbt_executable_path=DBT,
        invocation_mode=INVOCATION,
        env=DBT_ENV,
        install_deps=False,
        trigger_rule="none_failed",
    )

    # The sources' own tests (unique / not-null ids): cosmos renders the models' tests only.
    source_tests = DbtTestLocalOperator(
        task_id="dbt_source_tests",
        project_dir=str(PROJECT_DIR),
        profile_config=PROFILE,
        dbt_executable_path=DBT,
        invocation_mode=INVOCATION,
        env=DBT_ENV,
        install_deps=False,
        select=["source:*"],
        # only tests on sources alone: a test that also reads a model runs in the dbt group, after that model
        indirect_selection="cautious",
    )

    transform = DbtTaskGroup(
        group_id="dbt",
        operator_args={"env": DBT_ENV},
        project_config=ProjectConfig(dbt_project_path=PROJECT_DIR, install_dbt_deps=False),
        profile_config=PROFILE,
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=INVOCATION,
            dbt_executable_path=DBT,
            # A model's test task runs only the tests on that model alone; tests between models (relationships)
            # get their own task after all their parents (should_detach_multiple_parents_tests below).
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=DBT,
            select=["path:models/staging", "path:models/intermediate", "path:models/marts", "path:seeds",
                    "path:snapshots"],
            # build (default): one `dbt build` task per model runs it and its own tests, half the dbt calls of
            # after_each (a run task and a test task per model); either way a failing test stops what is downstream.
            test_behavior=TestBehavior(SETTINGS.test_behavior),
            should_detach_multiple_parents_tests=True,
        ),
    )

    ingest_done >> freshness
    freshness >> source_tests >> transform

    # Activation (off by default): the rows changed since the last sync, out to the destination after the build.
    sync_arguments = SETTINGS.hook("P360_DAG_SYNC_ARGS")
    if hook_enabled("P360_DAG_SYNC", SETTINGS.hook("P360_DAG_SYNC"), sync_arguments.split()[0], AVAILABLE):
        with TaskGroup("activation", tooltip="sync patient_360 out") as activation:
            BashOperator(task_id="sync_export", bash_command=f"{shlex.quote(CLI)} {sync_arguments}",
                         cwd=str(PROJECT_DIR))
        transform >> activation
