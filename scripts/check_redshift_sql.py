"""Offline Redshift check: compile every model for the `redshift` target with no cluster, then parse and
lint the compiled SQL with sqlfluff's redshift dialect.

No Redshift is reachable from CI, so this is what stands between a model and SQL that Redshift's grammar
rejects. The compile runs twice (is_incremental() forced false, then true through the var
`p360_force_incremental`) so both branches of incremental models are checked.

Exit code 0 when every file parses and lints clean, 1 otherwise (each problem named with its file).
Usage: python scripts/check_redshift_sql.py [--project-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from sqlfluff.core import FluffConfig, Linter

# The generic-test SQL is dbt's own: it must parse, but its style is not ours to lint.
STYLE_CHECKED_DIRS = ("models", "analyses")
OFFLINE_ENV = {
    # Any value does: compile never connects with --no-populate-cache and the is_incremental() override.
    "REDSHIFT_HOST": "redshift.offline.invalid",
    "REDSHIFT_USER": "offline_check",
    "REDSHIFT_PASSWORD": "not-a-secret",
}


def compile_for_redshift(project_dir: Path, target_path: Path, incremental: bool) -> None:
    env = {**os.environ, **OFFLINE_ENV}
    env.setdefault("DBT_PROFILES_DIR", str(project_dir / "profiles"))
    command = [
        str(Path(sys.executable).parent / "dbt"), "compile", "--target", "redshift", "--no-populate-cache", "--quiet",
        "--project-dir", str(project_dir), "--target-path", str(target_path),
        "--vars", f"{{p360_force_incremental: {str(incremental).lower()}}}",
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stdout.write(completed.stdout + completed.stderr)
        raise SystemExit(f"dbt compile for redshift failed (incremental={incremental})")


def check_files(project_dir: Path, compiled_root: Path) -> list[str]:
    files = sorted(compiled_root.rglob("*.sql"))
    if not files:
        return [f"no compiled SQL under {compiled_root}: nothing was checked"]
    config = FluffConfig.from_path(str(project_dir), overrides={"dialect": "redshift"})
    result = Linter(config=config).lint_paths(tuple(str(f) for f in files), processes=1)
    problems = []
    for path_result in result.paths:
        for linted_file in path_result.files:
            relative = Path(linted_file.path).relative_to(compiled_root)
            is_generic_test = any(part.endswith(".yml") for part in relative.parts)
            style_checked = relative.parts[1] in STYLE_CHECKED_DIRS and not is_generic_test
            for violation in linted_file.violations:
                code = violation.rule_code()
                if code in {"PRS", "TMP", "LXR"} or style_checked:
                    problems.append(f"{relative}:{violation.line_no}: {code} {violation.desc()}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--modes", choices=["both", "full", "incremental"], default="both",
        help="which is_incremental() branch(es) to compile (default: both)",
    )
    args = parser.parse_args()
    modes = {"both": (False, True), "full": (False,), "incremental": (True,)}[args.modes]
    project_dir = args.project_dir.resolve()
    all_problems: list[str] = []
    checked = 0
    for incremental in modes:
        target_path = project_dir / "target" / f"redshift-check-{'incremental' if incremental else 'full'}"
        compile_for_redshift(project_dir, target_path, incremental)
        compiled_root = target_path / "compiled"
        checked += len(list(compiled_root.rglob("*.sql")))
        all_problems += [f"[incremental={incremental}] {p}" for p in check_files(project_dir, compiled_root)]
    for problem in all_problems:
        print(problem)
    print(f"redshift check: {checked} compiled files, {len(all_problems)} problem(s)")
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
