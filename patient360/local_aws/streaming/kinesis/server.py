"""A Kinesis Data Streams API for local runs: kinesalite (npm, run with the machine's node) on 127.0.0.1.

Installed by ``make services`` (package.json + package-lock.json beside this module, ``npm ci`` into
``.local/node``). In memory, like the local Kafka broker: a restarted kinesalite is an empty one, and its streams
get a new creation timestamp the landing notices. ``KINESIS_ENDPOINT_URL`` set, or unset with AWS credentials,
points the same code at any other endpoint instead.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patient360.background import read_state, stop_recorded, write_state
from patient360.local_aws.streaming.broker import LOOPBACK, free_port, wait_until_listening

PACKAGE_DIR = Path(__file__).resolve().parent  # package.json and package-lock.json: `make services` installs them
# kinesalite dies when a client drops a request half way; this guard keeps it serving (see the file)
OUTLIVE_ABORTED_REQUESTS = PACKAGE_DIR / "outlive_aborted_requests.js"


class KinesaliteError(RuntimeError):
    """kinesalite is not installed, did not start or cannot be reached."""


def node_binary() -> str:
    found = shutil.which("node")
    if found is None:
        raise KinesaliteError("node is not installed: kinesalite needs Node.js (https://nodejs.org)")
    return found


def _command(cli: Path, port: int) -> list[str]:
    if not cli.is_file():
        raise KinesaliteError(f"kinesalite is not installed at {cli}: run `make services` (P360_KINESALITE)")
    # Streams become ACTIVE at once: the project waits with describe_stream anyway, tests need not sleep.
    return [node_binary(), "--require", str(OUTLIVE_ABORTED_REQUESTS), str(cli), "--port", str(port),
            "--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0", "--shardLimit", "1000"]


@dataclass
class LocalKinesis:
    """A kinesalite process on loopback."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)


def start_kinesalite(cli: Path, *, log_path: Path | None = None, timeout_s: float = 30.0,
                     detached: bool = False) -> LocalKinesis:
    port = free_port()
    command = _command(cli, port)
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=detached)
    finally:
        if log_path:
            log.close()  # type: ignore[union-attr]
    local = LocalKinesis(port=port, process=process)
    try:
        wait_until_listening(LOOPBACK, port, timeout_s, process)
    except BaseException as exc:
        local.stop()
        raise KinesaliteError(f"kinesalite did not start: {exc}") from exc
    return local


@contextmanager
def kinesalite_for(cli: Path, *, log_path: Path | None = None) -> Iterator[str]:
    """The endpoint of a kinesalite running for the duration."""
    local = start_kinesalite(cli, log_path=log_path)
    try:
        yield local.endpoint_url
    finally:
        local.stop()


# --- a kinesalite that outlives the command that started it (`patient360 services start kinesis`) -------------


@dataclass(frozen=True)
class BackgroundKinesis:
    port: int
    pid: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def _state_file(data_dir: Path) -> Path:
    return data_dir / "kinesis" / "kinesalite.json"


def running_kinesalite(data_dir: Path) -> BackgroundKinesis | None:
    return read_state(_state_file(data_dir), BackgroundKinesis)


def start_background_kinesalite(data_dir: Path, cli: Path) -> BackgroundKinesis:
    found = running_kinesalite(data_dir)
    if found is not None:
        return found
    state = _state_file(data_dir)
    state.parent.mkdir(parents=True, exist_ok=True)
    local = start_kinesalite(cli, log_path=state.parent / "kinesalite.log", detached=True)
    started = BackgroundKinesis(port=local.port, pid=local.process.pid)
    write_state(state, started)
    return started


def stop_background_kinesalite(data_dir: Path, timeout_s: float = 10.0) -> bool:
    return stop_recorded(_state_file(data_dir), BackgroundKinesis, timeout_s)
