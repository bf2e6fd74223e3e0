"""Where the sources live: the one place that decides between the configured AWS-side endpoint (environment,
see ``patient360.settings``) and the project's own local stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patient360.local_aws.streaming import broker
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
