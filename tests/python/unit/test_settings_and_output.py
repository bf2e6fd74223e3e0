"""Settings are read from the environment in one place and handed on whole; output is whole lines; dbt's result
is summarised and its failures named."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from patient360.dbt import DbtResult, NodeResult, _node_results
from patient360.settings import VARIABLES, SettingsError, load_settings


def test_defaults_and_overrides_come_from_the_environment(tmp_path: Path) -> None:
    defaults = load_settings(tmp_path, environ={})
    assert (defaults.target, defaults.front_desk, defaults.kafka.bootstrap_servers) == ("local", None, None)
    assert defaults.replica_path == tmp_path / f"{defaults.zetl_db}.duckdb"
    configured = load_settings(tmp_path, environ={
        "P360_ZETL_DB": "zetl_x", "KAFKA_BOOTSTRAP_SERVERS": "b-1.msk:9098", "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "FRONT_DESK_MYSQL_HOST": "aurora.example", "FRONT_DESK_MYSQL_PORT": "3307",
    })
    assert configured.zetl_db == "zetl_x" and configured.replica_path.name == "zetl_x.duckdb"
    assert configured.kafka.client_config() == {"security_protocol": "SASL_SSL"}
    assert configured.front_desk is not None and configured.front_desk.port == 3307


def test_child_processes_get_the_same_settings_back(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"P360_ZETL_DB": "zetl_y", "FRONT_DESK_MYSQL_HOST": "db"})
    again = load_settings(environ=settings.child_env())
    assert again == settings


@pytest.mark.parametrize(("name", "value"), [("FRONT_DESK_MYSQL_PORT", "abc"), ("P360_TARGET", "snowflake")])
def test_a_bad_value_is_an_error_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    environ = {name: value, "FRONT_DESK_MYSQL_HOST": "db"}
    with pytest.raises(SettingsError, match=name):
        load_settings(tmp_path, environ=environ)


def test_secrets_are_declared_as_such() -> None:
    secrets = {v.name for v in VARIABLES if v.secret}
    assert secrets == {"FRONT_DESK_MYSQL_PASSWORD", "REDSHIFT_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def test_messages_are_never_hard_wrapped_off_a_terminal() -> None:
    from patient360.console import make_console

    console = make_console(stderr=True)
    assert console.soft_wrap, "off a terminal (tests, pipes, Airflow) a message must stay on one line"
    buffer = io.StringIO()
    Console(file=buffer, soft_wrap=True, width=40).print("x" * 150 + " does not exist")
    assert buffer.getvalue().count("\n") == 1


def test_dbt_failures_name_the_nodes_and_the_log(tmp_path: Path) -> None:
    result = DbtResult(["build"], 1, 12.5, tmp_path / "logs" / "dbt-output.log", nodes=[
        NodeResult("model.patient360.patient_360", "success", None),
        NodeResult("test.patient360.not_null_patient_360_patient_id", "fail", "Got 3 results"),
        NodeResult("test.patient360.accepted_range", "warn", "Got 1 result"),
    ])
    assert result.summary() == "dbt build: 1 models, 2 tests; 1 fail, 1 success, 1 warn in 12.5 s"
    lines = result.failure_lines()
    assert lines[0].startswith("fail: test.patient360.not_null_patient_360_patient_id: Got 3 results")
    assert lines[-1] == f"full dbt log: {tmp_path / 'logs' / 'dbt-output.log'}"
    assert [w.unique_id for w in result.warnings] == ["test.patient360.accepted_range"]


def test_run_results_of_an_earlier_run_are_not_taken_for_this_one(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({"results": [{"unique_id": "model.p.m", "status": "success"}]}))
    assert [n.unique_id for n in _node_results(path, since=time.time() - 60)] == ["model.p.m"]
    assert _node_results(path, since=time.time() + 60) == []  # written before this run started
