"""What every verb prints with: messages on stderr (never hard-wrapped off a terminal), results on stdout."""

from __future__ import annotations

from patient360.console import make_console

console = make_console(stderr=True)
OK, FAILED, USAGE = 0, 1, 2


def error(message: str) -> int:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return USAGE


def note(message: str) -> None:
    console.print(f"[yellow]note:[/yellow] {message}", highlight=False)


def info(message: str) -> None:
    console.print(message, highlight=False)
