"""Fault suite plumbing: every test records its figures (faults injected, records checked, lost,
duplicated); they are written as JSON next to the test's data, printed (`pytest -s`), and summed up in
one table at the end of the run (`make test` output)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

from patient360.settings import testing_option

# Bounded and reproducible in CI: no example database in the repo, no time deadline (dbt and real
# servers are slow on a 2-core machine), the same examples on every run unless P360_HYPOTHESIS_RANDOM=1.
settings.register_profile(
    "p360-faults", database=None, deadline=None, derandomize=not testing_option("P360_HYPOTHESIS_RANDOM"),
    print_blob=True,
)
settings.load_profile("p360-faults")

FIGURES_ENV = "P360_FAULT_FIGURES"  # optional: also append every record to this JSON-lines file


@dataclass
class Figures:
    area: str
    test: str
    faults_injected: dict[str, int] = field(default_factory=dict)
    records_in: int = 0
    records_checked: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: str = ""

    @property
    def faults_total(self) -> int:
        return sum(self.faults_injected.values())

    def line(self) -> str:
        faults = ", ".join(f"{k}={v}" for k, v in sorted(self.faults_injected.items())) or "-"
        return (f"[{self.area}] {self.test}: faults {self.faults_total} ({faults}); records in {self.records_in}, "
                f"checked {self.records_checked}, lost {self.lost}, duplicated {self.duplicated}"
                + (f"; {self.notes}" if self.notes else ""))


_COLLECTED: list[Figures] = []  # on the process that reports (the controller under pytest-xdist)


@pytest.fixture
def record_figures(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``record_figures(Figures(...))``: keep, print and write one test's figures."""

    def record(figures: Figures) -> Figures:
        figures.test = figures.test or request.node.name
        # travels with the test's report, so the summary sees it also when the test ran on an xdist worker
        request.node.user_properties.append(("fault_figures", asdict(figures)))
        payload = {**asdict(figures), "faults_total": figures.faults_total}
        (tmp_path / "fault-figures.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        if path := testing_option(FIGURES_ENV):
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(payload) + "\n")
        print("FAULT FIGURES", figures.line(), flush=True)
        return figures

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _COLLECTED.extend(Figures(**value) for name, value in report.user_properties if name == "fault_figures")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not _COLLECTED:
        return
    terminalreporter.section("fault suite figures")
    header = f"{'area':<12} {'faults':>7} {'in':>8} {'checked':>8} {'lost':>5} {'dup':>5}  test"
    terminalreporter.write_line(header)
    for f in _COLLECTED:
        terminalreporter.write_line(
            f"{f.area:<12} {f.faults_total:>7} {f.records_in:>8} {f.records_checked:>8} {f.lost:>5} "
            f"{f.duplicated:>5}  {f.test}"
        )
    totals = (sum(f.faults_total for f in _COLLECTED), sum(f.records_in for f in _COLLECTED),
              sum(f.records_checked for f in _COLLECTED), sum(f.lost for f in _COLLECTED),
              sum(f.duplicated for f in _COLLECTED))
    terminalreporter.write_line(
        f"{'TOTAL':<12} {totals[0]:>7} {totals[1]:>8} {totals[2]:>8} {totals[3]:>5} {totals[4]:>5}"
    )
