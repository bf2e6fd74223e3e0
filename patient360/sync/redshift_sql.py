"""The Redshift statements of the sync, as text: UNLOAD (initial export), the incremental select (Data API,
named parameters) and COPY (engagement write-back). Tests parse each with sqlfluff's redshift dialect.

Redshift rules encoded here:
  * UNLOAD's query is a quoted literal: quotes inside it are doubled, and the literal processes backslashes,
    so none are produced (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html).
  * FORMAT AS PARQUET with MANIFEST writes the file list beside the parallel slice files
    (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html).
  * Data API parameters are named ``:name`` and passed as strings
    (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-calling.html).
  * COPY from CSV with IGNOREHEADER, from Parquet by column position
    (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html,
    https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html).
"""

from __future__ import annotations

import re
from datetime import datetime

from patient360.sync.profiles import DELETED_COLUMN, WATERMARK_COLUMN

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")
_S3_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*()/=-]*)?$")


def identifier(name: str) -> str:
    """A lowercase Redshift identifier, refused when it would need quoting (nothing user-typed is spliced)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain lowercase identifier: {name!r}")
    return name


def role_arn(arn: str | None) -> str:
    if arn is None or not _ROLE_ARN.match(arn):
        raise ValueError(f"P360_UNLOAD_IAM_ROLE_ARN must be an IAM role ARN, got {arn!r}")
    return arn


def s3_url(url: str) -> str:
    if not _S3_URL.match(url):
        raise ValueError(f"not an S3 URL Redshift can use: {url!r}")
    return url


def timestamp_literal(value: datetime) -> str:
    """A timestamp literal built from a datetime (never from text), so it cannot carry a quote."""
    return f"'{value.replace(tzinfo=None).isoformat(sep=' ')}'"


def select_batch(relation: str, *, after: datetime | None, upto: datetime | None, named_params: bool) -> str:
    """The rows of one batch: last_updated_at in (after, upto], tombstones (is_deleted) included. Without
    ``after`` (the initial export, or a first sync) the live rows only: the consumer holds nothing to delete.
    ``named_params``: ``:after``/``:upto`` for the Data API; otherwise literals (DuckDB COPY ... TO takes no
    parameters)."""
    conditions = []
    if after is None:
        conditions.append(f"{DELETED_COLUMN} = false")
    else:
        conditions.append(f"{WATERMARK_COLUMN} > " + ("cast(:after as timestamp)" if named_params
                                                       else f"cast({timestamp_literal(after)} as timestamp)"))
    if upto is not None:
        conditions.append(f"{WATERMARK_COLUMN} <= " + ("cast(:upto as timestamp)" if named_params
                                                        else f"cast({timestamp_literal(upto)} as timestamp)"))
    return f"select *\nfrom {relation}\nwhere {' and '.join(conditions)}\norder by patient_id"


def select_upper_bound(relation: str, *, after: datetime | None, named_params: bool) -> str:
    """The batch's upper bound, read first so the batch and its stored watermark agree exactly. Tombstones
    count: an initial export's watermark passes the deletions it leaves out, so no later batch repeats them."""
    where = ""
    if after is not None:
        value = "cast(:after as timestamp)" if named_params else f"cast({timestamp_literal(after)} as timestamp)"
        where = f"\nwhere {WATERMARK_COLUMN} > {value}"
    return f"select max({WATERMARK_COLUMN}) as upto, count(*) as row_count\nfrom {relation}{where}"


def unload_statement(relation: str, *, upto: datetime, to_url: str, iam_role_arn: str | None) -> str:
    """Initial export: every row up to the watermark, Parquet files in parallel plus a manifest."""
    query = select_batch(relation, after=None, upto=upto, named_params=False).replace("\n", " ")
    quoted = query.replace("'", "''")
    return (
        f"unload ('{quoted}')\n"
        f"to '{s3_url(to_url)}'\n"
        f"iam_role '{role_arn(iam_role_arn)}'\n"
        "format as parquet\n"
        "manifest\n"
        "allowoverwrite"
    )


ENGAGEMENT_COLUMNS = ("patient_id", "event_type", "occurred_at")


def engagement_table_ddl(schema: str) -> list[str]:
    """The raw table (every value text: bad rows are quarantined by dbt, never refused by the load)."""
    return [
        f"create schema if not exists {identifier(schema)}",
        f"create table if not exists {identifier(schema)}.outreach_events (\n"
        "    patient_id varchar(256),\n    event_type varchar(256),\n    occurred_at varchar(256),\n"
        "    source_file varchar(1024),\n    source_row integer,\n    loaded_at timestamp\n)",
    ]


def copy_engagement_statements(schema: str, *, from_url: str, file_format: str, iam_role_arn: str | None) -> list[str]:
    """One file into the raw table, in one transaction (Data API batch): COPY into a temporary table, then
    replace that file's rows (a re-import of the same file never duplicates)."""
    table = f"{identifier(schema)}.outreach_events"
    if file_format == "csv":
        options, columns = "format as csv\nignoreheader 1", f" ({', '.join(ENGAGEMENT_COLUMNS)})"
    elif file_format == "parquet":  # by position, no column list: the file holds exactly these three strings
        options, columns = "format as parquet", ""
    else:
        raise ValueError(f"unsupported engagement file format {file_format!r} (csv or parquet)")
    source = s3_url(from_url)
    return [
        *engagement_table_ddl(schema),
        "create temp table outreach_events_load (\n"
        "    patient_id varchar(256),\n    event_type varchar(256),\n    occurred_at varchar(256)\n)",
        f"copy outreach_events_load{columns}\nfrom '{source}'\n"
        f"iam_role '{role_arn(iam_role_arn)}'\n{options}",
        f"delete from {table}\nwhere source_file = '{source}'",
        f"insert into {table}\nselect\n    patient_id,\n    event_type,\n    occurred_at,\n"
        f"    '{source}' as source_file,\n    cast(row_number() over (order by patient_id, occurred_at) as integer),\n"
        "    getdate()\nfrom outreach_events_load",
    ]


class RedshiftRuleError(ValueError):
    """A sync statement breaks a Redshift rule (patient360.redshift_check); nothing was sent."""


_NAMED_PARAMETER = re.compile(r"cast\(:[a-z_]+ as")


def check_redshift_statement(sql: str, *, node: str) -> None:
    """Every sync statement is checked by the project's Redshift rules (issue 13) before it is sent. The Data
    API substitutes ``:name`` parameters server-side: the check sees a literal of the same type in their place."""
    from patient360.redshift_check import check_sql  # late: sqlfluff is slow to import, only Redshift needs it

    violations = check_sql(_NAMED_PARAMETER.sub("cast('2000-01-01 00:00:00' as", sql), node=node)
    if violations:
        raise RedshiftRuleError("; ".join(str(violation) for violation in violations))
