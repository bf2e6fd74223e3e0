"""python -m patient360.redshift_check [--project-dir DIR]: record every statement dbt sends to Redshift (full and
incremental build, source freshness, run-operations), parse each with sqlfluff's redshift dialect, apply the
Redshift rules and lint the compiled models' style. Prints counts per phase and kind; exit 1 on any problem."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from patient360.redshift_check.parsing import grammar_gap, parse
from patient360.redshift_check.recorder import (
    PROJECT_DIR,
    STATEMENTS_FILE,
    Statement,
    compiled_analyses,
    record,
    write_statements,
)
from patient360.redshift_check.rules import Violation, check_statements
from patient360.redshift_check.style import lint_compiled_models


def summary(statements: Sequence[Statement]) -> list[str]:
    lines = []
    for phase in dict.fromkeys(s.phase for s in statements):
        kinds = Counter(s.kind for s in statements if s.phase == phase)
        lines.append(f"  {phase}: {sum(kinds.values())} statements: "
                     + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    return lines


def parse_report(statements: Sequence[Statement]) -> list[str]:
    unparsed = [s for s in statements if parse(s.sql).error is not None]
    gaps = Counter(grammar_gap(s.sql) for s in unparsed)
    parsed = len(statements) - len(unparsed)
    lines = [f"parsed with sqlfluff (redshift): {parsed}/{len(statements)}"]
    lines += [f"  known sqlfluff grammar gap (dbt-redshift catalog query), {count}: {gap}"
              for gap, count in gaps.items() if gap is not None]
    return lines


def run(project_dir: Path) -> int:
    started = time.monotonic()
    target = project_dir / "target"
    statements = record(project_dir, target / "redshift_check")
    path = write_statements(statements, target / STATEMENTS_FILE)
    recorded_at = time.monotonic()
    analyses = compiled_analyses(target / "redshift_check")
    violations: list[Violation] = check_statements([*statements, *analyses])
    style = lint_compiled_models(project_dir, target / "redshift_check" / "compiled")
    print(f"recorded {len(statements)} statements to {path} in {recorded_at - started:.0f} s")
    print("\n".join(summary(statements) + parse_report(statements)))
    print(f"  analyses (compiled, not sent by a build): {len(analyses)} statements checked")
    for problem in [str(v) for v in dict.fromkeys(violations)] + style:
        print(problem)
    print(f"redshift check: {len(violations)} rule violation(s), {len(style)} style problem(s) "
          f"in {time.monotonic() - started:.0f} s")
    return 1 if violations or style else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    return run(args.project_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
