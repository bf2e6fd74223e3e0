"""The project's SQL style (.sqlfluff, redshift dialect) over the compiled models and analyses of the build.

dbt's own generic-test SQL must parse (the rules check that), but its style is not ours to lint."""

from __future__ import annotations

from pathlib import Path

from sqlfluff.core import FluffConfig, Linter

STYLE_CHECKED_DIRS = ("models", "analyses")


def lint_compiled_models(project_dir: Path, compiled_root: Path) -> list[str]:
    files = sorted(f for folder in STYLE_CHECKED_DIRS for f in compiled_root.glob(f"*/{folder}/**/*.sql")
                   if not any(part.endswith(".yml") for part in f.relative_to(compiled_root).parts))
    if not files:
        return [f"no compiled models under {compiled_root}: nothing was style-checked"]
    config = FluffConfig.from_path(str(project_dir), overrides={"dialect": "redshift"})
    result = Linter(config=config).lint_paths(tuple(str(f) for f in files), processes=1)
    return [f"{Path(linted.path).relative_to(compiled_root)}:{violation.line_no}: "
            f"{violation.rule_code()} {violation.desc()}"
            for path_result in result.paths for linted in path_result.files for violation in linted.violations]
