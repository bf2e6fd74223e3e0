"""Where the front-desk database lives: env vars only, so the same code points at Aurora MySQL.

FRONT_DESK_MYSQL_HOST / _PORT / _USER / _PASSWORD / _DATABASE (and optionally _SOCKET).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import pymysql

DEFAULT_DATABASE = "front_desk_app_db"
ENV_PREFIX = "FRONT_DESK_MYSQL_"


@dataclass(frozen=True)
class MySqlSettings:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "p360"
    password: str = ""
    database: str = DEFAULT_DATABASE
    unix_socket: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MySqlSettings:
        env = dict(os.environ if env is None else env)
        port_text = env.get(f"{ENV_PREFIX}PORT", "3306")
        try:
            port = int(port_text)
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}PORT must be a port number, got {port_text!r}") from exc
        return cls(
            host=env.get(f"{ENV_PREFIX}HOST", cls.host),
            port=port,
            user=env.get(f"{ENV_PREFIX}USER", cls.user),
            password=env.get(f"{ENV_PREFIX}PASSWORD", cls.password),
            database=env.get(f"{ENV_PREFIX}DATABASE", cls.database),
            unix_socket=env.get(f"{ENV_PREFIX}SOCKET") or None,
        )

    def as_env(self) -> dict[str, str]:
        env = {
            f"{ENV_PREFIX}HOST": self.host,
            f"{ENV_PREFIX}PORT": str(self.port),
            f"{ENV_PREFIX}USER": self.user,
            f"{ENV_PREFIX}PASSWORD": self.password,
            f"{ENV_PREFIX}DATABASE": self.database,
        }
        if self.unix_socket:
            env[f"{ENV_PREFIX}SOCKET"] = self.unix_socket
        return env

    def with_database(self, database: str) -> MySqlSettings:
        return replace(self, database=database)

    def pymysql_kwargs(self, *, with_database: bool = True) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host, "port": self.port, "user": self.user, "password": self.password,
            "charset": "utf8mb4", "autocommit": False, "connect_timeout": 10,
        }
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        if with_database:
            kwargs["database"] = self.database
        return kwargs

    def describe(self) -> str:
        """For messages: where, never the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


def connect(settings: MySqlSettings, *, with_database: bool = True) -> pymysql.connections.Connection:
    try:
        return pymysql.connect(**settings.pymysql_kwargs(with_database=with_database))
    except pymysql.err.OperationalError as exc:
        raise ConnectionError(
            f"cannot connect to the front-desk MySQL at {settings.describe()}: {exc.args[-1]} "
            f"(set {ENV_PREFIX}HOST/PORT/USER/PASSWORD, or start the local server: patient360 services)"
        ) from exc
