"""A small client of the Redshift Data API (boto3 ``redshift-data``): no connection pool, no driver.

``execute_statement`` (named parameters) or ``batch_execute_statement`` (one transaction), then
``describe_statement`` polled with exponential backoff until FINISHED / FAILED / ABORTED, then
``get_statement_result`` paged by NextToken. A provisioned cluster (ClusterIdentifier + DbUser or SecretArn)
or a Serverless workgroup (WorkgroupName, optionally SecretArn) comes from the settings.
https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html
https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from patient360.settings import SyncSettings

DONE, FAILED_STATES = "FINISHED", {"FAILED", "ABORTED"}


class DataApiError(RuntimeError):
    """A statement failed, was aborted or did not finish in time (the message says which)."""


@dataclass(frozen=True)
class DataApiTarget:
    database: str
    cluster_id: str | None = None
    workgroup: str | None = None
    db_user: str | None = None
    secret_arn: str | None = None

    @classmethod
    def from_settings(cls, sync: SyncSettings) -> DataApiTarget:
        if bool(sync.cluster_id) == bool(sync.workgroup):
            raise ValueError("set exactly one of P360_REDSHIFT_CLUSTER_ID and P360_REDSHIFT_WORKGROUP for the Data API")
        if sync.cluster_id and not (sync.db_user or sync.secret_arn):
            raise ValueError("a cluster needs P360_REDSHIFT_DB_USER or P360_REDSHIFT_SECRET_ARN for the Data API")
        return cls(sync.redshift_database, sync.cluster_id, sync.workgroup, sync.db_user, sync.secret_arn)

    def request(self) -> dict[str, str]:
        """The addressing part of every execute request."""
        fields = {"Database": self.database, "ClusterIdentifier": self.cluster_id, "WorkgroupName": self.workgroup,
                  "DbUser": self.db_user, "SecretArn": self.secret_arn}
        return {name: value for name, value in fields.items() if value}


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.2
    factor: float = 2.0
    max_s: float = 5.0
    timeout_s: float = 900.0

    def delays(self) -> Iterator[float]:
        delay = self.first_s
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_s)


def _field_value(field: Mapping[str, Any]) -> Any:
    """One Data API field ({"stringValue": ...}, {"isNull": true}, ...) as a Python value."""
    if field.get("isNull"):
        return None
    for kind in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if kind in field:
            return field[kind]
    raise DataApiError(f"unknown Data API field kind: {sorted(field)}")


class RedshiftDataApi:
    def __init__(self, client: Any, target: DataApiTarget, *, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.target = client, target
        self.backoff, self.sleep = backoff or Backoff(), sleep

    def execute(self, sql: str, parameters: Mapping[str, str] | None = None) -> str:
        """Submit one statement; returns its id. Parameters are named (``:name`` in the SQL), values strings."""
        request: dict[str, Any] = {**self.target.request(), "Sql": sql}
        if parameters:
            request["Parameters"] = [{"name": name, "value": value} for name, value in parameters.items()]
        return str(self.client.execute_statement(**request)["Id"])

    def execute_batch(self, sqls: list[str]) -> str:
        """Submit statements that run in one transaction, in order."""
        return str(self.client.batch_execute_statement(**self.target.request(), Sqls=sqls)["Id"])

    def wait(self, statement_id: str) -> dict[str, Any]:
        """Poll until the statement is done; raises DataApiError on failure, abort or timeout."""
        deadline = time.monotonic() + self.backoff.timeout_s
        for delay in self.backoff.delays():
            described: dict[str, Any] = self.client.describe_statement(Id=statement_id)
            status = described["Status"]
            if status == DONE:
                return described
            if status in FAILED_STATES:
                raise DataApiError(f"statement {statement_id} {status.lower()}: {described.get('Error', '')}")
            if time.monotonic() + delay > deadline:
                raise DataApiError(f"statement {statement_id} not finished after {self.backoff.timeout_s:.0f}s")
            self.sleep(delay)
        raise AssertionError("unreachable")  # delays() never ends

    def rows(self, statement_id: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and every row of a finished statement, all pages."""
        columns: list[str] = []
        rows: list[tuple[Any, ...]] = []
        token: str | None = None
        while True:
            page = self.client.get_statement_result(Id=statement_id, **({"NextToken": token} if token else {}))
            columns = columns or [column["name"] for column in page.get("ColumnMetadata", [])]
            rows += [tuple(_field_value(field) for field in record) for record in page.get("Records", [])]
            token = page.get("NextToken")
            if not token:
                return columns, rows

    def query(self, sql: str, parameters: Mapping[str, str] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        statement_id = self.execute(sql, parameters)
        described = self.wait(statement_id)
        if not described.get("HasResultSet"):
            return [], []
        return self.rows(statement_id)

    def run(self, sql: str, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A statement with no result set (UNLOAD, DDL); returns its description (ResultRows, Duration)."""
        return self.wait(self.execute(sql, parameters))

    def run_batch(self, sqls: list[str]) -> dict[str, Any]:
        return self.wait(self.execute_batch(sqls))


def data_api_client(region: str | None) -> Any:
    import boto3  # late: only the Redshift target needs it at run time

    return boto3.client("redshift-data", region_name=region)
