"""Where the sources live: the one place that decides between the configured AWS-side endpoint (environment,
see ``patient360.settings``) and the project's own local stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patient360.local_aws.streaming import broker
from patient360.local_aws.streaming.kinesis import server as kinesis_server
from patient360.local_aws.zero_etl import mariadb_server
from patient360.settings import MySqlSettings, Settings


class SourceUnavailable(RuntimeError):
    """A source is neither configured nor running locally (the message says how to get one)."""


@dataclass(frozen=True)
class FrontDeskEndpoint:
    mysql: MySqlSettings
    started_here: mariadb_server.MariaDbServer | None  # a private server this call started

    def stop_if_started_here(self) -> None:
        if self.started_here is not None:
            mariadb_server.stop(self.started_here)


def front_desk(settings: Settings, *, start: bool) -> FrontDeskEndpoint:
    """FRONT_DESK_MYSQL_* when set (Aurora or any MySQL); else the private MariaDB of the data dir, started
    when ``start`` and not running yet."""
    if settings.front_desk is not None:
        return FrontDeskEndpoint(settings.front_desk, None)
    server = mariadb_server.running(settings.data_dir)
    if server is not None:
        return FrontDeskEndpoint(server.settings, None)
    if not start:
        raise SourceUnavailable(
            f"no front-desk MySQL: FRONT_DESK_MYSQL_HOST is unset and no private MariaDB runs for "
            f"{settings.data_dir} (start one: `patient360 services start mariadb`)"
        )
    if not mariadb_server.is_installed():
        raise SourceUnavailable(
            "no front-desk MySQL: FRONT_DESK_MYSQL_HOST is unset and MariaDB is not installed (`make services`)"
        )
    try:
        server = mariadb_server.start(settings.data_dir)
    except mariadb_server.MariaDbUnavailable as exc:
        raise SourceUnavailable(str(exc)) from exc
    return FrontDeskEndpoint(server.settings, server)


def front_desk_available(settings: Settings) -> bool:
    return settings.front_desk is not None or mariadb_server.is_installed()


def configured_kafka(settings: Settings) -> str | None:
    """KAFKA_BOOTSTRAP_SERVERS, else the background broker of the data dir (`services start kafka`)."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    running = broker.running_broker(settings.data_dir)
    return running.bootstrap_servers if running else None


def require_kafka(settings: Settings) -> str:
    bootstrap = configured_kafka(settings)
    if bootstrap is None:
        raise SourceUnavailable(
            "no Kafka broker: KAFKA_BOOTSTRAP_SERVERS is unset and no local broker runs for "
            f"{settings.data_dir} (start one: `patient360 services start kafka`)"
        )
    return bootstrap


@contextmanager
def kafka_for_step(settings: Settings, log_path: Path) -> Iterator[tuple[str, bool]]:
    """(bootstrap servers, whether the broker is new and empty): the configured or running one, else a local
    broker for the duration of the step."""
    bootstrap = configured_kafka(settings)
    if bootstrap is not None:
        yield bootstrap, False
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with broker.kafka_bootstrap(None, log_path=log_path) as local:
            yield local, True
    except broker.BrokerError as exc:
        raise SourceUnavailable(f"the local Kafka broker did not start: {exc}") from exc


# --- the wearable stream: MSK (Kafka) or Kinesis Data Streams, by P360_STREAM_KIND ---------------------------


@dataclass(frozen=True)
class StreamEndpoint:
    """Where the wearable stream is: Kafka bootstrap servers (msk) or a Kinesis endpoint (kinesis; None = AWS)."""

    kind: str
    address: str | None
    new_stream: bool = False  # a local server started for the step: an empty stream

    def describe(self) -> str:
        if self.kind == "kinesis":
            return f"Kinesis at {self.address or 'AWS (AWS_REGION)'}"
        return f"Kafka at {self.address}"


def configured_kinesis(settings: Settings) -> tuple[bool, str | None]:
    """(found, endpoint URL): KINESIS_ENDPOINT_URL; else the background kinesalite of the data dir; else real
    Kinesis when AWS_REGION is set (endpoint None: boto3's regional endpoint). Not found: none of these."""
    if settings.kinesis.endpoint_url:
        return True, settings.kinesis.endpoint_url
    running = kinesis_server.running_kinesalite(settings.data_dir)
    if running is not None:
        return True, running.endpoint_url
    return (True, None) if settings.kinesis.region else (False, None)


def require_stream(settings: Settings) -> StreamEndpoint:
    """The configured or running stream of the configured kind (never starts one)."""
    if settings.stream_kind == "kinesis":
        found, endpoint = configured_kinesis(settings)
        if not found:
            raise SourceUnavailable(
                "no Kinesis: KINESIS_ENDPOINT_URL and AWS_REGION are unset and no local kinesalite runs for "
                f"{settings.data_dir} (start one: `patient360 services start kinesis`)")
        return StreamEndpoint("kinesis", endpoint)
    return StreamEndpoint("msk", require_kafka(settings))


@contextmanager
def stream_for_step(settings: Settings, logs_dir: Path) -> Iterator[StreamEndpoint]:
    """The configured or running stream, else a local one (tansu or kinesalite) for the duration of the step."""
    if settings.stream_kind != "kinesis":
        with kafka_for_step(settings, logs_dir / "tansu.log") as (bootstrap, new_stream):
            yield StreamEndpoint("msk", bootstrap, new_stream)
        return
    found, endpoint = configured_kinesis(settings)
    if found:
        yield StreamEndpoint("kinesis", endpoint)
        return
    logs_dir.mkdir(parents=True, exist_ok=True)
    try:
        with kinesis_server.kinesalite_for(settings.kinesis.kinesalite, log_path=logs_dir / "kinesalite.log") as url:
            yield StreamEndpoint("kinesis", url, new_stream=True)
    except kinesis_server.KinesaliteError as exc:
        raise SourceUnavailable(f"the local Kinesis (kinesalite) did not start: {exc}") from exc


def stream_source_selector(settings: Settings) -> str:
    """The dbt source of the configured stream kind (for `--select source:<it>+`)."""
    return "source:wearables_kds+" if settings.stream_kind == "kinesis" else "source:wearables_msk+"
