"""The Kinesis variant (P360_STREAM_KIND=kinesis) compiled for Redshift offline: the external schema FROM KINESIS,
the one streaming view (materialized view, auto refresh, JSON_PARSE(kinesis_data) when CAN_JSON_PARSE), every
wearables statement parsed (sqlfluff's redshift dialect), passing the Redshift rules (patient360.redshift_check)
and the project's style.
https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-streaming-ingestion-getting-started.html"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from patient360.redshift_check.rules import DEFAULT_STREAM_SCHEMAS, Context, check_sql
from patient360.redshift_check.style import lint_compiled_models
from tests.python.integration.test_wearables_redshift_sql import assert_parses, dbt
from tests.python.support import PROJECT_DIR

KINESIS = {"P360_STREAM_KIND": "kinesis"}


def redshift_rules(sql: str, node: str, *, streaming_view: bool = False) -> None:
    """The Redshift rules (patient360.redshift_check) on one compiled statement, from_kds known as a stream
    schema. A streaming view is checked as the DDL dbt runs for it (only a streaming materialized view may read
    the stream)."""
    statement = f"create materialized view {node} auto refresh yes as {sql}" if streaming_view else sql
    context = Context(stream_schemas=DEFAULT_STREAM_SCHEMAS | {"from_kds"})
    assert check_sql(statement, node=node, context=context) == []


def project_style_problems(compiled_root: Path) -> list[str]:
    """The project's .sqlfluff style on the compiled models (patient360.redshift_check.style)."""
    return lint_compiled_models(PROJECT_DIR, compiled_root)


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
    manifest = json.loads((target / "manifest.json").read_text())
    streaming_views = {node["name"] for node in manifest["nodes"].values()
                       if node["config"].get("materialized") == "materialized_view"}
    assert streaming_views == {"base_wearables__kds_stream"}, "one streaming view per stream"
    for path in compiled:
        sql = path.read_text()
        assert "json_extract_string" not in sql and "try(" not in sql, f"DuckDB SQL leaked into {path.name}"
        assert_parses(sql, path.stem)
        redshift_rules(sql, path.stem, streaming_view=path.stem in streaming_views)
    assert project_style_problems(target / "compiled") == []
    base = next(p for p in compiled if p.stem == "base_wearables__kds_stream").read_text()
    assert "then json_parse(kinesis_data) end as payload" in base
    assert "can_json_parse(kinesis_data), false) as is_json" in base
    assert "dev.from_kds.wearables_stream" in base
    records = next(p for p in compiled if p.stem == "stg_wearables__records").read_text()
    assert "base_wearables__kds_stream" in records
    assert "lpad(cast(sequence_number as varchar(128)), 128, '0')" in records
    node = manifest["nodes"]["model.patient360.base_wearables__kds_stream"]
    assert node["config"]["materialized"] == "materialized_view" and node["config"]["auto_refresh"] is True

    # The DDL is an analysis tagged wearables: compiled in the same dbt run (role from P360_KDS_IAM_ROLE_ARN).
    ddl = next(p for p in compiled if p.stem == "wearables_kds_external_schema").read_text()
    lines = [line.strip() for line in ddl.strip().splitlines()]
    assert lines == ["create external schema if not exists from_kds", "from kinesis",
                     "iam_role 'arn:aws:iam::123456789012:role/redshift-kds'"]
