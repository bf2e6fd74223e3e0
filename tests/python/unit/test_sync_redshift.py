"""The Redshift side of the sync, offline: the Data API client against botocore's Stubber (the API's own
request/response shapes, validated by botocore), and every statement the sync sends (UNLOAD, the incremental
select, COPY with its transaction) parsed by sqlfluff's redshift dialect."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
import sqlfluff
from botocore.stub import Stubber

from patient360.settings import SyncSettings
from patient360.sync.export import batch_name, export_every, parse_every
from patient360.sync.profiles import export_profile
from patient360.sync.redshift_data_api import Backoff, DataApiError, DataApiTarget, RedshiftDataApi
from patient360.sync.redshift_source import RedshiftSource, sync_relation
from patient360.sync.redshift_sql import (
    RedshiftRuleError,
    check_redshift_statement,
    copy_engagement_statements,
    select_batch,
    select_upper_bound,
    unload_statement,
)
from patient360.sync.watermark import Watermark, read_watermark, state_path, store_watermark

ROLE = "arn:aws:iam::123456789012:role/patient360-unload"
AFTER, UPTO = datetime(2026, 3, 1, 12, 0, 0, 123456), datetime(2026, 3, 2, 8, 30)


def sync_settings(**changes: Any) -> SyncSettings:
    values: dict[str, Any] = dict(
        destination="s3://activation/p360", profile="care_team", fault=None, s3_endpoint_url=None, s3_port=4569,
        iam_role_arn=ROLE, cluster_id=None, workgroup="patient360-wg", db_user=None, secret_arn=None,
        region="us-east-1", redshift_database="dev", redshift_schema="patient360", engagement_schema="engagement_raw")
    return SyncSettings(**{**values, **changes})


def stubbed() -> tuple[RedshiftDataApi, Stubber, list[float]]:
    client = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    slept: list[float] = []
    api = RedshiftDataApi(client, DataApiTarget.from_settings(sync_settings()), backoff=Backoff(first_s=0.5),
                          sleep=slept.append)
    return api, Stubber(client), slept


def assert_parses_for_redshift(sql: str) -> None:
    # The Data API substitutes :name parameters server-side; the grammar sees the value it will get.
    sqlfluff.parse(re.sub(r"cast\(:[a-z_]+ as", "cast('2026-03-01 12:00:00' as", sql), dialect="redshift")
    check_redshift_statement(sql, node="test")  # and the project's Redshift rules (issue 13) pass it


def test_incremental_batch_through_the_data_api_polls_with_backoff_and_pages(tmp_path: Path) -> None:
    api, stub, slept = stubbed()
    source = RedshiftSource(api, sync_settings())
    sql = select_batch(sync_relation(sync_settings()), after=AFTER, upto=UPTO, named_params=True)
    stub.add_response("execute_statement", {"Id": "st-1"}, {
        "Sql": sql, "Database": "dev", "WorkgroupName": "patient360-wg",
        "Parameters": [{"name": "upto", "value": "2026-03-02 08:30:00"},
                       {"name": "after", "value": "2026-03-01 12:00:00.123456"}]})
    for status in ("SUBMITTED", "STARTED", "STARTED"):
        stub.add_response("describe_statement", {"Id": "st-1", "Status": status}, {"Id": "st-1"})
    stub.add_response("describe_statement", {"Id": "st-1", "Status": "FINISHED", "HasResultSet": True},
                      {"Id": "st-1"})
    columns = [{"name": "patient_id"}, {"name": "allergy_count"}, {"name": "last_updated_at"}]
    stub.add_response("get_statement_result", {
        "Records": [[{"stringValue": "p1"}, {"longValue": 2}, {"stringValue": "2026-03-02 08:00:00"}]],
        "ColumnMetadata": columns, "TotalNumRows": 2, "NextToken": "page-2"}, {"Id": "st-1"})
    stub.add_response("get_statement_result", {
        "Records": [[{"stringValue": "p2"}, {"isNull": True}, {"stringValue": "2026-03-02 08:30:00"}]],
        "ColumnMetadata": columns, "TotalNumRows": 2}, {"Id": "st-1", "NextToken": "page-2"})
    with stub:
        rows = source.write_parquet(AFTER, UPTO, tmp_path / "batch.parquet")
    stub.assert_no_pending_responses()
    assert rows == 2
    assert slept == [0.5, 1.0, 2.0]  # exponential backoff between the polls
    written = duckdb.sql(f"select * from read_parquet('{tmp_path / 'batch.parquet'}') order by 1").fetchall()
    assert written == [("p1", 2, "2026-03-02 08:00:00"), ("p2", None, "2026-03-02 08:30:00")]


def test_a_failed_statement_raises_with_the_error() -> None:
    api, stub, _ = stubbed()
    stub.add_response("execute_statement", {"Id": "st-2"})
    stub.add_response("describe_statement", {"Id": "st-2", "Status": "FAILED",
                                             "Error": "permission denied for relation patient_360_sync"})
    with stub, pytest.raises(DataApiError, match="failed: permission denied"):
        api.query("select 1")


def test_initial_unload_and_the_engagement_copy_in_one_batch() -> None:
    api, stub, _ = stubbed()
    source = RedshiftSource(api, sync_settings())
    unload = unload_statement(sync_relation(sync_settings()), upto=UPTO, to_url="s3://activation/p360/x/part_",
                              iam_role_arn=ROLE)
    stub.add_response("execute_statement", {"Id": "st-3"}, {"Sql": unload, "Database": "dev",
                                                            "WorkgroupName": "patient360-wg"})
    stub.add_response("describe_statement", {"Id": "st-3", "Status": "FINISHED", "HasResultSet": False,
                                             "ResultRows": 1234})
    copy = copy_engagement_statements("engagement_raw", from_url="s3://activation/in/a.csv", file_format="csv",
                                      iam_role_arn=ROLE)
    stub.add_response("batch_execute_statement", {"Id": "st-4"}, {"Sqls": copy, "Database": "dev",
                                                                 "WorkgroupName": "patient360-wg"})
    stub.add_response("describe_statement", {"Id": "st-4", "Status": "FINISHED", "ResultRows": 6})
    with stub:
        assert source.unload(UPTO, "s3://activation/p360/x/part_", ROLE) == 1234
        assert api.run_batch(copy)["ResultRows"] == 6
    stub.assert_no_pending_responses()


def test_cluster_or_workgroup_from_settings() -> None:
    cluster = DataApiTarget.from_settings(sync_settings(workgroup=None, cluster_id="p360", db_user="sync_user"))
    assert cluster.request() == {"Database": "dev", "ClusterIdentifier": "p360", "DbUser": "sync_user"}
    with pytest.raises(ValueError, match="exactly one"):
        DataApiTarget.from_settings(sync_settings(cluster_id="p360"))
    with pytest.raises(ValueError, match="DB_USER or P360_REDSHIFT_SECRET_ARN"):
        DataApiTarget.from_settings(sync_settings(workgroup=None, cluster_id="p360"))


def test_every_sync_statement_parses_as_redshift() -> None:
    relation = sync_relation(sync_settings())
    statements = [
        select_batch(relation, after=AFTER, upto=UPTO, named_params=True),
        select_batch(relation, after=None, upto=UPTO, named_params=False),
        select_upper_bound(relation, after=AFTER, named_params=True),
        unload_statement(relation, upto=UPTO, to_url="s3://activation/p360/initial/part_", iam_role_arn=ROLE),
        *copy_engagement_statements("engagement_raw", from_url="s3://activation/in/a.csv", file_format="csv",
                                    iam_role_arn=ROLE),
        *copy_engagement_statements("engagement_raw", from_url="s3://activation/in/b.parquet",
                                    file_format="parquet", iam_role_arn=ROLE),
    ]
    for sql in statements:
        assert_parses_for_redshift(sql)
    unload = statements[3]
    assert "format as parquet\nmanifest" in unload and f"iam_role '{ROLE}'" in unload
    assert "''2026-03-02 08:30:00''" in unload  # the inner query's quotes doubled inside UNLOAD's literal
    assert "\\" not in "".join(statements)  # Redshift literals process backslashes: none are produced


def test_incremental_batches_select_tombstones_the_initial_export_leaves_them_out() -> None:
    """The statements' text (Redshift grammar and rules) and what they select, run on a DuckDB table of the same
    name: a live row, a tombstone, and a row older than the watermark."""
    relation = sync_relation(sync_settings())
    incremental = select_batch(relation, after=AFTER, upto=UPTO, named_params=True)
    initial = unload_statement(relation, upto=UPTO, to_url="s3://activation/p360/initial/part_", iam_role_arn=ROLE)
    for sql in (incremental, initial):
        assert_parses_for_redshift(sql)
    assert "is_deleted" not in incremental  # nothing filters tombstones out of a batch
    assert "where is_deleted = false and last_updated_at <=" in initial
    with duckdb.connect() as con:
        con.execute("create schema patient360_marts")
        con.execute(f"create table {relation} (patient_id varchar, given_name varchar, is_deleted boolean, "
                    "last_updated_at timestamp)")
        con.execute(f"insert into {relation} values ('live', 'Ann', false, '2026-03-02 08:00:00'), "
                    "('gone', null, true, '2026-03-02 08:30:00'), ('old', 'Bo', false, '2026-03-01 09:00:00'), "
                    "('old-gone', null, true, '2026-03-01 10:00:00')")

        def selected(after: datetime | None) -> list[tuple[str, bool]]:
            sql = select_batch(relation, after=after, upto=UPTO, named_params=False)
            return [(row[0], row[2]) for row in con.execute(sql).fetchall()]

        assert selected(AFTER) == [("gone", True), ("live", False)]
        assert selected(None) == [("live", False), ("old", False)]  # the initial export: live rows only
        upper = con.execute(select_upper_bound(relation, after=None, named_params=False)).fetchone()
    assert upper == (datetime(2026, 3, 2, 8, 30), 4)  # the initial watermark passes the tombstones it leaves out


def test_the_redshift_rules_refuse_a_bad_statement_before_it_is_sent() -> None:
    with pytest.raises(RedshiftRuleError, match="does not parse"):
        check_redshift_statement("unload select from where", node="sync.bad")


def test_bad_inputs_are_refused_by_name() -> None:
    relation = sync_relation(sync_settings())
    with pytest.raises(ValueError, match="IAM role ARN"):
        unload_statement(relation, upto=UPTO, to_url="s3://activation/p360/", iam_role_arn=None)
    with pytest.raises(ValueError, match="not an S3 URL"):
        unload_statement(relation, upto=UPTO, to_url="s3://activation/p'; drop", iam_role_arn=ROLE)
    with pytest.raises(ValueError, match="csv or parquet"):
        copy_engagement_statements("engagement_raw", from_url="s3://a-b/c.json", file_format="json",
                                   iam_role_arn=ROLE)
    with pytest.raises(ValueError, match="unknown export profile 'marketing'"):
        export_profile("marketing")
    with pytest.raises(ValueError, match="--every"):
        parse_every("10 minutes")
    assert parse_every("10m") == 600 and parse_every("1h") == 3600


def test_watermark_round_trip_and_batch_names(tmp_path: Path) -> None:
    path = state_path(tmp_path, "s3://activation/p360", "care_team")
    assert read_watermark(path) == Watermark(None)
    store_watermark(path, Watermark(UPTO, 3, 42))
    assert read_watermark(path) == Watermark(UPTO, 3, 42)
    assert not list(tmp_path.glob("*.partial"))
    assert batch_name("care_team", AFTER, UPTO) == (
        "patient_360__care_team__20260301T120000123456__20260302T083000000000.parquet")
    assert batch_name("analytics", None, UPTO).startswith("patient_360__analytics__initial__")


def test_every_keeps_syncing_on_its_cadence_until_stopped() -> None:
    rounds: list[int] = []
    slept: list[float] = []

    def export() -> None:
        rounds.append(len(rounds))

    done = export_every(2.5, export, lambda batch: None, stop=lambda: len(rounds) >= 3, sleep=slept.append)
    assert done == 3 and rounds == [0, 1, 2]
    # the interval, in steps short enough to notice a stop request
    assert slept == pytest.approx([1.0, 1.0, 0.5] * 2, abs=0.01)
