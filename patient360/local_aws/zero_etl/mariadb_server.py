"""A private MariaDB server on 127.0.0.1: the local stand-in for Aurora MySQL.

The server is configured the way Aurora zero-ETL requires its source to be: binary log on,
``binlog_format=ROW``, ``binlog_row_image=FULL``, ``binlog_row_metadata=FULL`` and a server id.
Its datadir lives under ``$P360_DATA_DIR/mariadb``; it listens on a free loopback port and on a
private socket, and writes ``server.json`` beside the datadir so later commands find it again.

The Debian package ``mariadb-server`` provides the binaries (``make services`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql

from patient360.background import process_alive, read_state, stop_process, write_state
from patient360.settings import FRONT_DESK_DATABASE, MySqlSettings

APP_USER = "p360"
APP_PASSWORD = "p360-local-only"  # loopback-only throwaway server; Aurora credentials come from env vars
SERVER_SEARCH_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/libexec")
ZERO_ETL_SETTINGS = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}


class MariaDbUnavailable(RuntimeError):
    """MariaDB is not installed or would not start."""


@dataclass(frozen=True)
class MariaDbServer:
    base_dir: str
    port: int
    socket: str
    pid: int
    server_id: int

    @property
    def settings(self) -> MySqlSettings:
        return MySqlSettings(
            host="127.0.0.1", port=self.port, user=APP_USER, password=APP_PASSWORD, database=FRONT_DESK_DATABASE,
        )

    def is_alive(self) -> bool:
        return process_alive(self.pid) and _can_connect(self.socket)


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SERVER_SEARCH_PATH:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def binaries() -> tuple[str, str]:
    server = find_binary("mariadbd") or find_binary("mysqld")
    install_db = find_binary("mariadb-install-db") or find_binary("mysql_install_db")
    if not server or not install_db:
        raise MariaDbUnavailable(
            "MariaDB is not installed (mariadbd / mariadb-install-db not found): run `make services` "
            "(apt-get install -y mariadb-server)"
        )
    return server, install_db


def is_installed() -> bool:
    try:
        binaries()
    except MariaDbUnavailable:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _can_connect(socket_path: str) -> bool:
    try:
        pymysql.connect(unix_socket=socket_path, user="root", connect_timeout=2).close()
    except pymysql.err.MySQLError:
        return False
    return True


def _socket_path(base: Path) -> Path:
    candidate = base / "run" / "mariadb.sock"
    if len(str(candidate)) < 100:  # sun_path is 108 bytes
        return candidate
    short = Path(tempfile.gettempdir()) / f"p360-mariadb-{os.getuid()}-{abs(hash(str(base))) % 10**8}.sock"
    return short


def _state_file(base: Path) -> Path:
    return base / "server.json"


def _os_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no error log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def running(data_dir: Path) -> MariaDbServer | None:
    """The server started earlier for this data dir, if it is still up."""
    server = read_state(_state_file(data_dir / "mariadb"), MariaDbServer)
    return server if server is not None and server.is_alive() else None


def start(
    data_dir: Path, *, port: int | None = None, server_id: int = 1, timeout: float = 60.0,
) -> MariaDbServer:
    """Initialise (first time) and start a private mariadbd; return once it accepts connections."""
    server_bin, install_db = binaries()
    base = (data_dir / "mariadb").resolve()
    datadir = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    (base / "run").mkdir(exist_ok=True)
    log_error = base / "mariadb.err"
    user = _os_user()
    if not (datadir / "mysql").is_dir():
        if datadir.exists():
            shutil.rmtree(datadir)  # a half-initialised datadir from an interrupted first start
        result = subprocess.run(
            [install_db, "--no-defaults", f"--datadir={datadir}", f"--user={user}",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            capture_output=True, text=True, timeout=max(timeout, 120),
        )
        if result.returncode != 0:
            raise MariaDbUnavailable(
                f"mariadb-install-db failed for {datadir} (exit {result.returncode}):\n"
                f"{result.stderr[-2000:]}"
            )
    sock = _socket_path(base)
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    port = port or free_port()
    args = [
        server_bin, "--no-defaults", f"--datadir={datadir}", f"--user={user}",
        "--bind-address=127.0.0.1", f"--port={port}", f"--socket={sock}",
        f"--pid-file={base / 'run' / 'mariadb.pid'}", f"--log-error={log_error}",
        f"--server-id={server_id}", f"--log-bin={datadir / 'binlog'}",
        *(f"--{name.replace('_', '-')}={value}" for name, value in ZERO_ETL_SETTINGS.items()),
        "--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--max-connections=64",
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
    ]
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not _can_connect(str(sock)):
        if process.poll() is not None:
            raise MariaDbUnavailable(
                f"mariadbd exited with code {process.returncode} on start; "
                f"error log {log_error}:\n{_tail(log_error)}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise MariaDbUnavailable(
                f"mariadbd did not accept connections within {timeout:.0f}s; see {log_error}"
            )
        time.sleep(0.1)
    _bootstrap(str(sock))
    server = MariaDbServer(
        base_dir=str(base), port=port, socket=str(sock), pid=process.pid, server_id=server_id,
    )
    write_state(_state_file(base), server)
    return server


def ensure_running(data_dir: Path, **kwargs: object) -> MariaDbServer:
    return running(data_dir) or start(data_dir, **kwargs)  # type: ignore[arg-type]


def _bootstrap(sock: str) -> None:
    """The application user (TCP from 127.0.0.1, password) with replication rights; check binlog settings."""
    con = pymysql.connect(unix_socket=sock, user="root", autocommit=True)
    try:
        with con.cursor() as cur:
            cur.execute("create user if not exists %s@'127.0.0.1' identified by %s", (APP_USER, APP_PASSWORD))
            cur.execute("grant all privileges on *.* to %s@'127.0.0.1' with grant option", (APP_USER,))
            cur.execute(f"create database if not exists `{FRONT_DESK_DATABASE}` character set utf8mb4")
            for name, expected in ZERO_ETL_SETTINGS.items():
                cur.execute("select @@global." + name)
                (value,) = cur.fetchone() or (None,)
                if str(value).upper() != expected:
                    raise MariaDbUnavailable(
                        f"MariaDB started with {name}={value}, zero-ETL needs {expected}"
                    )
    finally:
        con.close()


def stop(server: MariaDbServer, *, timeout: float = 30.0) -> None:
    """Clean shutdown (SIGTERM, InnoDB flushes), SIGKILL only if it does not stop in time."""
    stop_process(server.pid, timeout)
    with contextlib.suppress(FileNotFoundError):
        _state_file(Path(server.base_dir)).unlink()
