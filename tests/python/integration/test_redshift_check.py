"""The offline Redshift check must fail when a model emits SQL that Redshift's grammar rejects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.python.support import PROJECT_DIR

CHECK_SCRIPT = PROJECT_DIR / "scripts" / "check_redshift_sql.py"


def copy_project(destination: Path) -> Path:
    for item in ["dbt_project.yml", ".sqlfluff"]:
        shutil.copy(PROJECT_DIR / item, destination / item)
    for folder in ["models", "macros", "profiles", "seeds", "analyses", "tests/dbt"]:
        if (PROJECT_DIR / folder).exists():
            shutil.copytree(PROJECT_DIR / folder, destination / folder)
    return destination


def run_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK_SCRIPT), "--project-dir", str(project), "--modes", "full"],
        capture_output=True, text=True, timeout=600,
    )


def test_check_rejects_duckdb_only_sql_and_style_violations(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    staging = project / "models" / "staging" / "healthlake"
    # DuckDB's USING SAMPLE is not Redshift SQL: a model leaking it past the dispatch seam must fail.
    (staging / "stg_healthlake__leaky_sample.sql").write_text(
        "select id from {{ source('healthlake', 'patient') }} using sample 10 percent\n"
    )
    # Parses fine, but breaks the project's lowercase-keyword style.
    (staging / "stg_healthlake__shouting.sql").write_text(
        "SELECT id AS patient_id FROM {{ source('healthlake', 'patient') }}\n"
    )
    result = run_check(project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert any("stg_healthlake__leaky_sample.sql" in line and "PRS" in line for line in output.splitlines()), output
    assert any("stg_healthlake__shouting.sql" in line and "CP01" in line for line in output.splitlines()), output
    # The project's own models are not blamed.
    assert "stg_healthlake__patients.sql" not in output
