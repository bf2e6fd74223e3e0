"""The one "kept running between commands" implementation every local stand-in uses (patient360/background.py):
a state file finds the process again, a dead or foreign state reads as nothing, stop is SIGTERM then SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from patient360.background import process_alive, read_state, stop_recorded, write_state


@dataclass(frozen=True)
class Recorded:
    port: int
    pid: int


def spawn(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)


def test_a_recorded_process_is_found_again_then_stopped(tmp_path: Path) -> None:
    process = spawn("import time; time.sleep(60)")
    state = tmp_path / "svc" / "state.json"
    write_state(state, Recorded(port=1234, pid=process.pid))
    assert read_state(state, Recorded) == Recorded(port=1234, pid=process.pid)
    assert stop_recorded(state, Recorded) is True
    assert not process_alive(process.pid)  # reaped by the stop: no zombie left behind
    assert not state.exists() and read_state(state, Recorded) is None
    assert stop_recorded(state, Recorded) is False  # nothing left to stop


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    process = spawn("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
                    "time.sleep(60)")
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"  # SIGTERM is ignored now
    state = tmp_path / "state.json"
    write_state(state, Recorded(port=1, pid=process.pid))
    started = time.monotonic()
    assert stop_recorded(state, Recorded, timeout_s=0.5) is True
    deadline = time.monotonic() + 5
    while process_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not process_alive(process.pid) and time.monotonic() - started >= 0.5  # outlived SIGTERM, not SIGKILL


def test_dead_or_unreadable_state_reads_as_nothing_running(tmp_path: Path) -> None:
    finished = spawn("pass")
    finished.wait(timeout=10)
    state = tmp_path / "state.json"
    write_state(state, Recorded(port=1, pid=finished.pid))
    assert read_state(state, Recorded) is None
    state.write_text('{"port": 1}', encoding="utf-8")  # another version's shape
    assert read_state(state, Recorded) is None
    state.write_text("not json", encoding="utf-8")
    assert read_state(state, Recorded) is None
