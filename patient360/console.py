"""Terminal output: a console that never hard-wraps when the output is not a terminal (logs, pipes, Airflow and
tests read messages whole), progress bars for long work, and one line per pipeline step."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def make_console(*, stderr: bool = True, min_width: int = 0) -> Console:
    """A rich console; off a terminal, lines are never wrapped (a message stays on one line)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        console = Console(stderr=stderr)
        if min_width and console.width < min_width:
            console = Console(stderr=stderr, width=min_width)
        return console
    return Console(stderr=stderr, soft_wrap=True, width=max(min_width, 200))


def interactive() -> bool:
    """Progress bars only for a person watching a terminal."""
    return sys.stderr.isatty()


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        disable=not enabled, transient=True,
    )
    with progress:
        yield progress


@dataclass
class Steps:
    """``[i/n] name ... done: detail (seconds)``: one line per step of a pipeline."""

    total: int
    console: Console
    done: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[StepLine]:
        self.done += 1
        line = StepLine()
        started = time.monotonic()
        with self.console.status(f"[{self.done}/{self.total}] {name} ...") if interactive() else _nothing():
            yield line
        self.seconds[name] = time.monotonic() - started
        colour = {"done": "green", "skipped": "yellow", "failed": "red"}[line.outcome]
        detail = f": {line.detail}" if line.detail else ""
        self.console.print(f"[{self.done}/{self.total}] {name} [{colour}]{line.outcome}[/{colour}]{detail} "
                           f"({self.seconds[name]:.1f} s)", highlight=False)


@dataclass
class StepLine:
    outcome: str = "done"
    detail: str = ""

    def report(self, detail: str, outcome: str = "done") -> None:
        self.detail, self.outcome = detail, outcome


@contextmanager
def _nothing() -> Iterator[None]:
    yield
