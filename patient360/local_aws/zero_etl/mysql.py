"""Connections to the front-desk MySQL (Aurora MySQL, any MySQL, or the private MariaDB)."""

from __future__ import annotations

from typing import Any

import pymysql

from patient360.settings import ENV_PREFIX, MySqlSettings


def pymysql_kwargs(settings: MySqlSettings, *, with_database: bool = True) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "user": settings.user, "password": settings.password,
        "charset": "utf8mb4", "autocommit": False, "connect_timeout": 10,
    }
    if settings.unix_socket:
        kwargs["unix_socket"] = settings.unix_socket
    if with_database:
        kwargs["database"] = settings.database
    return kwargs


def connect(settings: MySqlSettings, *, with_database: bool = True) -> pymysql.connections.Connection:
    try:
        return pymysql.connect(**pymysql_kwargs(settings, with_database=with_database))
    except pymysql.err.OperationalError as exc:
        raise ConnectionError(
            f"cannot connect to the front-desk MySQL at {settings.describe()}: {exc.args[-1]} "
            f"(set {ENV_PREFIX}HOST/PORT/USER/PASSWORD, or start the local server: patient360 services start)"
        ) from exc
