"""The Kinesis variant (P360_STREAM_KIND=kinesis) compiled for Redshift offline: the external schema FROM KINESIS,
the base streaming view as a materialized view with auto refresh over JSON_PARSE(kinesis_data) where
CAN_JSON_PARSE, every wearables model parsing as Redshift SQL (sqlfluff's redshift dialect).
https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion-getting-started.html"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from tests.python.integration.test_wearables_redshift_sql import assert_parses, dbt
from tests.python.support import PROJECT_DIR

KINESIS = {"P360_STREAM_KIND": "kinesis"}


def redshift_rules(sql: str, node: str) -> None:
    """MERGE POINT (issue 13): call ``patient360.redshift_check.check_sql(sql, node=node)`` here once that
    package is merged; until then the statement must parse as Redshift SQL."""
    assert_parses(sql, node)


def project_style_problems(compiled_root: Path) -> list[str]:
    """The project's offline Redshift check (scripts/check_redshift_sql.py: parse + .sqlfluff style)."""
    script = PROJECT_DIR / "scripts" / "check_redshift_sql.py"
    spec = importlib.util.spec_from_file_location("check_redshift_sql", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.check_files(PROJECT_DIR, compiled_root))


def test_kinesis_models_and_external_schema_compile_and_parse_for_redshift(tmp_path: Path) -> None:
    # Under the project's target/ like scripts/check_redshift_sql.py: sqlfluff finds the project's .sqlfluff there.
    target = PROJECT_DIR / "target" / "redshift-check-kinesis"
    shutil.rmtree(target, ignore_errors=True)  # no compiled file of an earlier run is checked
    dbt(tmp_path, "compile", "--select", "tag:wearables", "--target-path", str(target), "--vars",
        "{p360_force_incremental: true}",
        extra_env={**KINESIS, "P360_KDS_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/redshift-kds"})
    compiled = sorted((target / "compiled").rglob("*.sql"))
    names = {path.stem for path in compiled}
    assert {"base_wearables__kds_stream", "base_wearables__kds_stream_unparsable", "stg_wearables__records"} <= names
    assert "base_wearables__stream" not in names, "the MSK streaming views are off on Kinesis"
    for path in compiled:
        sql = path.read_text()
        assert "json_extract_string" not in sql and "try(" not in sql, f"DuckDB SQL leaked into {path.name}"
        redshift_rules(sql, path.stem)
    assert project_style_problems(target / "compiled") == []
    base = next(p for p in compiled if p.stem == "base_wearables__kds_stream").read_text()
    assert "json_parse(kinesis_data) as payload" in base and "where can_json_parse(kinesis_data)" in base
    assert "dev.from_kds.wearables_stream" in base
    records = next(p for p in compiled if p.stem == "stg_wearables__records").read_text()
    assert "base_wearables__kds_stream" in records
    assert "lpad(cast(sequence_number as varchar(128)), 128, '0')" in records
    manifest = json.loads((target / "manifest.json").read_text())
    node = manifest["nodes"]["model.patient360.base_wearables__kds_stream"]
    assert node["config"]["materialized"] == "materialized_view" and node["config"]["auto_refresh"] is True

    # The DDL is an analysis tagged wearables: compiled in the same dbt run (role from P360_KDS_IAM_ROLE_ARN).
    ddl = next(p for p in compiled if p.stem == "wearables_kds_external_schema").read_text()
    lines = [line.strip() for line in ddl.strip().splitlines()]
    assert lines == ["create external schema if not exists from_kds", "from kinesis",
                     "iam_role 'arn:aws:iam::123456789012:role/redshift-kds'"]
