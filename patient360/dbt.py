"""The one way patient360 runs dbt: profiles, target, vars, source read-locks, log file and summary.

Every caller (the CLI, continuous mode, status, the benchmarks, the tests) goes through ``run_dbt``. On the
local target it first creates any missing source file (DuckDB cannot ATTACH a missing file read-only), then
holds the sources' shared locks (the ingestor and the replicator wait between their batches) and the
warehouse lock (one dbt at a time writes warehouse.duckdb). dbt's own output goes to ``logs/dbt-output.log``
under the data dir; the caller gets a ``DbtResult`` with the run's statuses from ``run_results.json``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patient360.local_aws.attachments import ensure_attached_sources, source_read_locks
from patient360.locks import advisory_lock
from patient360.settings import Settings, dbt_executable

FAILED_STATUSES = {"error", "fail", "runtime error"}


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    message: str | None
    seconds: float = 0.0

    @property
    def kind(self) -> str:
        return self.unique_id.split(".", 1)[0]


@dataclass
class DbtResult:
    command: list[str]
    returncode: int
    seconds: float
    log_path: Path
    output: str = ""
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def failures(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status in FAILED_STATUSES]

    @property
    def warnings(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status == "warn"]

    def summary(self) -> str:
        """One line: what ran, by kind and status, and how long it took."""
        kinds = Counter(node.kind for node in self.nodes)
        statuses = Counter(node.status for node in self.nodes)
        ran = ", ".join(f"{n} {kind}s" for kind, n in sorted(kinds.items())) or "nothing"
        outcome = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or f"exit {self.returncode}"
        return f"dbt {self.command[0]}: {ran}; {outcome} in {self.seconds:.1f} s"

    def failure_lines(self) -> list[str]:
        lines = [f"{node.status}: {node.unique_id}: {(node.message or '').strip()[:300]}" for node in self.failures]
        if not self.ok and not lines:
            lines = [line for line in self.output.strip().splitlines()[-15:]]
        return [*lines, f"full dbt log: {self.log_path}"]


def target_path(settings: Settings, name: str = "target") -> Path:
    """dbt's target folder for this data dir (never the project's, so data dirs never share state)."""
    return settings.data_dir / "dbt" / name


def run_dbt(
    settings: Settings, *args: str, target: str | None = None, dbt_vars: Mapping[str, Any] | None = None,
    target_name: str = "target", timeout_s: float | None = None, lock_timeout_s: float = 600,
) -> DbtResult:
    """``dbt <args>`` for these settings; never raises for a failing dbt (see ``DbtResult``)."""
    target = target or settings.target
    command = [*args, "--target", target, "--project-dir", str(settings.project_dir),
               "--target-path", str(target_path(settings, target_name)), "--log-path", str(settings.logs_dir)]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / "dbt-output.log"
    started, started_wall = time.monotonic(), time.time()
    with _local_locks(settings, target, lock_timeout_s):
        completed = subprocess.run(
            [dbt_executable(), *command], env=settings.child_env(), cwd=settings.project_dir,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout_s, check=False,
        )
    result = DbtResult(command, completed.returncode, time.monotonic() - started, log_path, completed.stdout)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n=== {datetime.now(UTC).isoformat()} dbt {' '.join(command)} (exit {result.returncode})\n")
        log.write(completed.stdout)
    result.nodes = _node_results(target_path(settings, target_name) / "run_results.json", started_wall)
    return result


@contextmanager
def _local_locks(settings: Settings, target: str, timeout_s: float) -> Iterator[None]:
    if target != "local":  # Redshift reads its own sources; nothing local to lock
        yield
        return
    ensure_attached_sources(settings)
    with (
        advisory_lock(settings.data_dir / "warehouse.lock", shared=False, timeout_s=timeout_s),
        source_read_locks(settings, timeout_s=timeout_s),
    ):
        yield


def _node_results(path: Path, since: float) -> list[NodeResult]:
    """The node statuses of the run started at ``since`` (epoch seconds): an older run_results.json belongs to
    an earlier run (this one failed before writing it)."""
    if not path.exists() or path.stat().st_mtime < since - 1:
        return []
    results = json.loads(path.read_text(encoding="utf-8")).get("results", [])
    return [NodeResult(r["unique_id"], str(r["status"]), r.get("message"), float(r.get("execution_time") or 0))
            for r in results]
