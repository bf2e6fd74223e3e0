"""Advisory file locks between the local writers (ingestor, replicator) and readers (dbt).

DuckDB allows one writer per file and a read-only ATTACH fails while a writer has the file open. Writers take
an exclusive lock next to their file for each batch, dbt runs hold a shared one for the whole build, so neither
meets DuckDB's own file lock mid-way. Locks are released by the kernel when a process dies (SIGKILL included).
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def advisory_lock(
    lock_path: Path, *, shared: bool, timeout_s: float, error: Callable[[str], Exception] = TimeoutError
) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with lock_path.open("a+") as handle:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        delay = 0.01
        while True:
            try:
                fcntl.flock(handle.fileno(), mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    kind = "shared" if shared else "exclusive"
                    raise error(f"no {kind} lock on {lock_path} after {timeout_s:.0f}s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
