"""The patient360 command as a user runs it: the one-shot pipeline, its output and its exit codes."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.python.support import HEALTHLAKE_DB, run_cli

DEMO_LINE_BUDGET = 60  # `make demo` on success: a newcomer sees at once whether it worked


def test_run_prints_a_line_per_step_and_dbts_summary_within_budget(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", "--patients", "8", "--seed", "3", "--show", "3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "patient_360 (" in result.stdout and "fct_patient_allergies (" in result.stdout
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= DEMO_LINE_BUDGET, "\n".join(lines)
    steps = [line for line in lines if line.startswith("[") and "/5]" in line[:6]]
    assert len(steps) == 5 and all(" done" in line or " skipped" in line for line in steps), steps
    assert any("models" in line and "tests" in line and "pass" in line for line in steps), "no dbt summary"
    assert (tmp_path / "logs" / "dbt-output.log").stat().st_size > 0, "dbt's full log goes to logs/"
    with duckdb.connect(str(tmp_path / "awsdatacatalog.duckdb"), read_only=True) as con:
        assert con.execute(f"select count(*) from {HEALTHLAKE_DB}.patient").fetchone() == (8,)


def test_bad_usage_and_missing_inputs_exit_2_with_whole_messages(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "run", "--patients", "0").returncode == 2
    assert run_cli(tmp_path, "build").returncode == 2
    assert run_cli(tmp_path, "show", "--no-such-option").returncode == 2
    # a long path: the message must stay on one line whatever the width (no hard wrap off a terminal)
    missing = tmp_path / ("a-rather-long-folder-name-" * 6) / "nowhere"
    result = run_cli(tmp_path, "healthlake", "import", str(missing))
    assert result.returncode == 2
    assert any(str(missing) in line and "does not exist" in line for line in result.stderr.splitlines()), result.stderr


def test_help_lists_the_verbs_and_exit_codes(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    listed = result.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    for verb in ("run", "simulate", "healthlake", "ingest", "replicate", "build", "show", "status", "continuous",
                 "services"):
        assert verb in listed, verb
    assert "exit codes:" in result.stdout
    desk = run_cli(tmp_path, "simulate", "front-desk", "--help")
    assert desk.returncode == 0 and "--days" in desk.stdout and "--seed" in desk.stdout
    assert "--rate" in run_cli(tmp_path, "simulate", "wearables", "--help").stdout


def test_unconfigured_or_unreachable_sources_exit_2(tmp_path: Path) -> None:
    ingest = run_cli(tmp_path, "ingest", KAFKA_BOOTSTRAP_SERVERS="")
    assert ingest.returncode == 2 and "KAFKA_BOOTSTRAP_SERVERS" in ingest.stderr
    replicate = run_cli(tmp_path, "replicate", "--once", FRONT_DESK_MYSQL_HOST="127.0.0.1", FRONT_DESK_MYSQL_PORT="1")
    assert replicate.returncode == 2 and "cannot connect" in replicate.stderr
    no_server = run_cli(tmp_path, "replicate", "--once", FRONT_DESK_MYSQL_HOST="")
    assert no_server.returncode == 2 and "patient360 services start mariadb" in no_server.stderr
    assert run_cli(tmp_path, "continuous", "--interval", "0").returncode == 2
    assert run_cli(tmp_path, "continuous").returncode == 2  # no HealthLake stand-in yet


def test_simulate_fhir_writes_the_bulk_export_where_asked(tmp_path: Path) -> None:
    out = tmp_path / "export"
    for patients in (5, 6):  # a second, bigger export replaces the first one's files
        result = run_cli(tmp_path, "simulate", "fhir", "--patients", str(patients), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert (out / "Patient.000.ndjson").read_text(encoding="utf-8").count("\n") == patients


def test_sof_run_writes_a_view_as_csv_and_names_a_bad_view(tmp_path: Path) -> None:
    import csv
    import json

    export = tmp_path / "export"
    assert run_cli(tmp_path, "simulate", "fhir", "--patients", "4", "--out", str(export)).returncode == 0
    assert run_cli(tmp_path, "healthlake", "import", str(export)).returncode == 0
    view = {"resourceType": "ViewDefinition", "name": "patient_genders", "resource": "Patient", "status": "active",
            "select": [{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]}]}
    (tmp_path / "genders.json").write_text(json.dumps(view), encoding="utf-8")
    result = run_cli(tmp_path, "sof", "run", str(tmp_path / "genders.json"), "--out", str(tmp_path / "g.csv"))
    assert result.returncode == 0, result.stderr
    with (tmp_path / "g.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {r["gender"] for r in rows} <= {"male", "female", "other", "unknown"}
    view["select"][0]["column"][1]["path"] = "genderr"
    (tmp_path / "bad.json").write_text(json.dumps(view), encoding="utf-8")
    bad = run_cli(tmp_path, "sof", "run", str(tmp_path / "bad.json"))
    assert bad.returncode == 2 and "genderr" in bad.stderr and "patient_genders" in bad.stderr, bad.stderr
