"""`patient360 services start|stop|status`: the local stand-ins that run as servers (MariaDB for Aurora MySQL,
a Kafka broker for MSK, s3rver for S3), kept running between commands. Prints the variables that point other
tools at them."""

from __future__ import annotations

import argparse
import sys

from patient360.cli.output import OK, info
from patient360.local_aws.s3 import server as s3_server
from patient360.local_aws.streaming import broker
from patient360.local_aws.streaming.kinesis import server as kinesis_server
from patient360.local_aws.zero_etl import mariadb_server
from patient360.settings import Settings, load_sync_settings

SERVICES = ("mariadb", "kafka", "kinesis", "s3")


def register(sub: argparse._SubParsersAction) -> None:
    verb = sub.add_parser("services", help="start, stop or show the local MariaDB, Kafka broker, kinesalite, S3",
                          epilog='Shell-ready: eval "$(patient360 services start)" exports the variables.')
    verb.add_argument("action", choices=["start", "stop", "status"])
    verb.add_argument("service", nargs="?", choices=[*SERVICES, "all"], default="all")
    verb.set_defaults(handler=services_verb)


def services_verb(args: argparse.Namespace, settings: Settings) -> int:
    # all: MariaDB and the server of the configured stream kind (P360_STREAM_KIND)
    stream_server = "kinesis" if settings.stream_kind == "kinesis" else "kafka"
    chosen = ("mariadb", stream_server) if args.service == "all" else (args.service,)
    for service in chosen:
        if args.action == "stop":
            stopped = _stop(service, settings)
            info(f"{service}: {'stopped' if stopped else 'not running'}")
            continue
        exports = _start(service, settings) if args.action == "start" else _running(service, settings)
        if exports is None:
            info(f"{service}: not running")
        for name, value in (exports or {}).items():
            sys.stdout.write(f"export {name}={value}\n")
    return OK


def _start(service: str, settings: Settings) -> dict[str, str]:
    if service == "s3":
        server = s3_server.start(settings.data_dir, load_sync_settings(settings).s3_port)
        return {"P360_S3_ENDPOINT_URL": server.endpoint_url}
    if service == "kinesis":
        started = kinesis_server.start_background_kinesalite(settings.data_dir, settings.kinesis.kinesalite)
        return {"KINESIS_ENDPOINT_URL": started.endpoint_url}
    if service == "mariadb":
        return mariadb_server.ensure_running(settings.data_dir).settings.as_env()
    return {"KAFKA_BOOTSTRAP_SERVERS": broker.start_background_broker(settings.data_dir).bootstrap_servers}


def _running(service: str, settings: Settings) -> dict[str, str] | None:
    if service == "s3":
        found_s3 = s3_server.running(settings.data_dir)
        return {"P360_S3_ENDPOINT_URL": found_s3.endpoint_url} if found_s3 else None
    if service == "kinesis":
        running = kinesis_server.running_kinesalite(settings.data_dir)
        return {"KINESIS_ENDPOINT_URL": running.endpoint_url} if running else None
    if service == "mariadb":
        server = mariadb_server.running(settings.data_dir)
        return server.settings.as_env() if server else None
    found = broker.running_broker(settings.data_dir)
    return {"KAFKA_BOOTSTRAP_SERVERS": found.bootstrap_servers} if found else None


def _stop(service: str, settings: Settings) -> bool:
    if service == "s3":
        return s3_server.stop(settings.data_dir)
    if service == "kinesis":
        return kinesis_server.stop_background_kinesalite(settings.data_dir)
    if service == "kafka":
        return broker.stop_background_broker(settings.data_dir)
    server = mariadb_server.running(settings.data_dir)
    if server is not None:
        mariadb_server.stop(server)
    return server is not None
