"""The wearable models, compiled for Redshift offline, parse as Redshift SQL; the streaming view is a
materialized view with auto refresh there and the external schema comes from MSK with IAM auth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlfluff
from sqlfluff.api.simple import APIParsingError

from tests.python.support import PROJECT_DIR, child_env

DBT = Path(sys.executable).parent / "dbt"
FAKE_REDSHIFT = {
    "P360_TARGET": "redshift",
    "REDSHIFT_HOST": "redshift.invalid",
    "REDSHIFT_USER": "offline",
    "REDSHIFT_PASSWORD": "offline",
    "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
}


def dbt(tmp: Path, *args: str, extra_env: dict[str, str] | None = None) -> str:
    env = child_env(tmp, **{**FAKE_REDSHIFT, **(extra_env or {})})
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--no-populate-cache",
        "--log-path",
        str(tmp / "logs"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def assert_parses(sql: str, where: str) -> None:
    try:
        sqlfluff.parse(sql, dialect="redshift")
    except APIParsingError as exc:
        pytest.fail(f"{where} does not parse as Redshift SQL: {exc}")


@pytest.mark.parametrize("incremental", ["true", "false"])
def test_wearable_models_compile_and_parse_for_redshift(tmp_path: Path, incremental: str) -> None:
    target = tmp_path / "target"
    dbt(
        tmp_path,
        "compile",
        "--select",
        "tag:wearables",
        "--target-path",
        str(target),
        "--vars",
        f"{{p360_force_incremental: {incremental}}}",
    )
    compiled = sorted((target / "compiled").rglob("*.sql"))
    names = {path.stem for path in compiled}
    assert {"base_wearables__stream", "stg_wearables__events", "fct_wearable_daily_activity"} <= names
    for path in compiled:
        sql = path.read_text()
        assert "json_extract_string" not in sql and "try(" not in sql, f"DuckDB SQL leaked into {path.name}"
        assert_parses(sql, path.name)
    base = (target / "compiled/patient360/models/staging/wearables/base_wearables__stream.sql").read_text()
    assert "json_parse(kafka_value)" in base and "can_json_parse(kafka_value)" in base
    records = next(p for p in compiled if p.stem == "stg_wearables__records").read_text()
    assert "cast(stream_records.payload_fields.patient_id as varchar)" in records
    events = next(p for p in compiled if p.stem == "stg_wearables__events").read_text()
    assert ("not exists" in events) == (incremental == "true")

    manifest = json.loads((target / "manifest.json").read_text())
    node = manifest["nodes"]["model.patient360.base_wearables__stream"]
    assert node["config"]["materialized"] == "materialized_view"
    assert node["config"]["auto_refresh"] is True
    source = manifest["sources"]["source.patient360.wearables_msk.wearables_stream"]
    assert (source["database"], source["schema"], source["identifier"]) == (
        "dev",
        "wearables_msk",
        "wearables_stream",
    )


def test_external_schema_from_msk_with_iam_auth(tmp_path: Path) -> None:
    inline = "{{ wearables_external_schema_sql() }}"
    by_uri = dbt(
        tmp_path,
        "compile",
        "--quiet",
        "--inline",
        inline,
        extra_env={"P360_MSK_BOOTSTRAP_URI": "b-1.example.kafka.eu-west-1.amazonaws.com:9098"},
    )
    assert "from msk" in by_uri and "authentication iam" in by_uri and "iam_role default" in by_uri
    assert_parses(by_uri, "CREATE EXTERNAL SCHEMA (URI)")
    by_arn = dbt(
        tmp_path,
        "compile",
        "--quiet",
        "--inline",
        inline,
        extra_env={
            "P360_MSK_CLUSTER_ARN": "arn:aws:kafka:eu-west-1:123456789012:cluster/wearables/abc",
            "P360_MSK_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/redshift-msk",
        },
    )
    # sqlfluff's grammar has no CLUSTER_ARN clause yet: check the statement's shape instead.
    lines = [line.strip() for line in by_arn.strip().splitlines()]
    assert lines == [
        'create external schema if not exists "wearables_msk"',
        "from msk",
        "iam_role 'arn:aws:iam::123456789012:role/redshift-msk'",
        "authentication iam",
        "cluster_arn 'arn:aws:kafka:eu-west-1:123456789012:cluster/wearables/abc'",
    ]


def test_local_target_materializes_the_streaming_view_as_a_plain_view(tmp_path: Path) -> None:
    target = tmp_path / "target"
    env = {"P360_TARGET": "local"}
    dbt(tmp_path, "parse", "--target-path", str(target), extra_env=env)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["nodes"]["model.patient360.base_wearables__stream"]["config"]["materialized"] == "view"
    source = manifest["sources"]["source.patient360.wearables_msk.wearables_stream"]
    assert source["database"] == "stream_landing"
