"""patient360: one command line for the local pipeline; each verb is a thin module that parses, calls the code
that does the work and prints.

  patient360 run --patients 50 --seed 42 --show 5       simulate, land, replicate and build everything, once
  patient360 simulate fhir|wearables|front-desk         generate source data into its source
  patient360 healthlake import DIR [--deletes FILE]     bulk-export NDJSON -> HealthLake stand-in
  patient360 ingest [--follow]                          land the wearable stream (streaming-ingestion stand-in)
  patient360 replicate [--once]                         zero-ETL CDC MySQL -> replica: follow, or catch up once
  patient360 build [--target local|redshift] [ARGS]     dbt build of the project (ARGS go to dbt)
  patient360 show [--limit 5]                           a few rows of the patient tables
  patient360 status [--no-freshness] [--json]           per source: rows, offsets, replication lag, freshness
  patient360 continuous --interval 10 --duration 120    stream + replica flowing, marts rebuilt every interval
  patient360 services start|stop|status [SERVICE]       the local MariaDB, Kafka broker, Kinesis and S3
  patient360 sof run VIEW.json [--out FILE]             a SQL-on-FHIR ViewDefinition -> CSV / Parquet
  patient360 sync export [--initial] [--every 10m]      patient_360 out as Parquet batches (watermark)
  patient360 sync import-engagement SOURCE              outreach events back in, into patient_360
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from patient360.cli import (
    build,
    continuous,
    healthlake,
    ingest,
    replicate,
    run,
    services,
    show,
    simulate,
    sof,
    status,
    sync,
)
from patient360.cli.output import USAGE, error
from patient360.local_aws.s3.server import S3StandInError
from patient360.local_aws.streaming.broker import BrokerError
from patient360.local_aws.streaming.kinesis.client import KinesisProduceError
from patient360.local_aws.streaming.kinesis.server import KinesaliteError
from patient360.local_aws.streaming.landing import LandingError
from patient360.local_aws.zero_etl.mariadb_server import MariaDbUnavailable
from patient360.local_aws.zero_etl.replicator import ZeroEtlError
from patient360.pipeline.endpoints import SourceUnavailable
from patient360.pipeline.run_once import StepError
from patient360.settings import SettingsError, load_settings
from patient360.sql_on_fhir.errors import ViewDefinitionError
from patient360.sync.redshift_data_api import DataApiError

VERBS = (run, simulate, healthlake, ingest, replicate, build, show, status, continuous, services, sof, sync)

EXIT_CODES = """exit codes:
  0  success (follow modes: stopped cleanly by SIGTERM / Ctrl-C)
  1  a step failed: its output says which (build: the failing nodes and the dbt log; status: a source is past
     its error_after; replicate: a table was refused, e.g. no primary key; continuous: no event became visible)
  2  bad usage or bad input: unknown option, missing file, source not configured or not reachable

Every setting comes from the environment (README "Configuration"); nothing is printed about patients beyond
counts and ids.
"""

# Errors that mean "bad input or a source that is not there": exit 2 with the message, no traceback.
USAGE_ERRORS: tuple[type[BaseException], ...] = (
    SourceUnavailable, SettingsError, FileNotFoundError, ConnectionError, MariaDbUnavailable, ZeroEtlError,
    ViewDefinitionError, ValueError,
)
# A running step that could not finish: exit 1 with the message.
STEP_ERRORS: tuple[type[BaseException], ...] = (StepError, BrokerError, LandingError, DataApiError, S3StandInError,
                                                KinesaliteError, KinesisProduceError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patient360", description=__doc__, epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="local data directory (default: $P360_DATA_DIR or .local)")
    sub = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.register(sub)
    return parser


def _kafka_error() -> type[BaseException]:
    from kafka.errors import KafkaError  # imported late: most verbs never touch Kafka

    return KafkaError


def _aws_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError  # imported late: most verbs never touch AWS

    return BotoCoreError, ClientError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `build` forwards what it does not know to dbt; any other verb rejects it.
    if extra and not getattr(args, "forwards", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.forwarded = [a for a in extra if a != "--"]
    handler: Callable[[argparse.Namespace, object], int] = args.handler
    try:
        return handler(args, load_settings(args.data_dir))
    except USAGE_ERRORS as exc:
        error(str(exc))
        return USAGE
    except STEP_ERRORS as exc:
        error(str(exc))
        return 1
    except _kafka_error() as exc:
        error(f"the Kafka broker cannot be reached or refused the request: {exc!r}")
        return USAGE
    except _aws_errors() as exc:
        error(f"Kinesis cannot be reached or refused the request (KINESIS_ENDPOINT_URL, AWS_REGION): {exc}")
        return USAGE


if __name__ == "__main__":
    sys.exit(main())
