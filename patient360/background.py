"""A local stand-in kept running between commands (``patient360 services start``): its process runs in its
own session, and a small JSON file under the data dir (port, pid, ...) lets later commands find it and stop
it. One implementation for every stand-in (Kafka, Kinesis, S3, MariaDB)."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, TypeVar


class HasPid(Protocol):
    @property
    def pid(self) -> int: ...


State = TypeVar("State", bound=HasPid)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a dead child of ours is reaped, so it does not linger as a zombie)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child: only the signal probe can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def stop_process(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM (the server flushes and exits), SIGKILL if it has not after ``timeout_s``."""
    if not process_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def read_state(path: Path, kind: type[State]) -> State | None:
    """The recorded stand-in if its process still runs; None when never started, stopped or died."""
    if not path.exists():
        return None
    try:
        found: State = kind(**json.loads(path.read_text(encoding="utf-8")))
    except (TypeError, ValueError):
        return None  # a state file from another version: as good as none
    return found if process_alive(found.pid) else None


def write_state(path: Path, state: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")


def stop_recorded(path: Path, kind: type[State], timeout_s: float = 10.0) -> bool:
    """Stop the stand-in recorded at ``path``; returns whether one was running."""
    found = read_state(path, kind)
    path.unlink(missing_ok=True)
    if found is None:
        return False
    stop_process(found.pid, timeout_s)
    return True
