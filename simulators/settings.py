"""Where things are: every location and name comes from the environment, with local defaults.

The same variables point the code at AWS (HealthLake database name, Redshift, MSK, Aurora) or at the
local stand-ins under P360_DATA_DIR.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    healthlake_db: str
    project_dir: Path = PROJECT_DIR

    @property
    def profiles_dir(self) -> Path:
        return Path(os.environ.get("DBT_PROFILES_DIR", self.project_dir / "profiles"))

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def healthlake_catalog_path(self) -> Path:
        return self.data_dir / "awsdatacatalog.duckdb"

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess so that profiles.yml resolves to these settings."""
        return {
            **os.environ,
            "P360_DATA_DIR": str(self.data_dir),
            "P360_HEALTHLAKE_DB": self.healthlake_db,
            "DBT_PROFILES_DIR": str(self.profiles_dir),
        }


def load_settings(data_dir: Path | None = None) -> Settings:
    chosen = data_dir or Path(os.environ.get("P360_DATA_DIR", PROJECT_DIR / ".local"))
    return Settings(
        data_dir=chosen.resolve(),
        healthlake_db=os.environ.get("P360_HEALTHLAKE_DB", "patient360_healthlake_view"),
    )


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")
