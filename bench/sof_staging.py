"""HealthLake staging on ViewDefinitions against the hand-written models it replaced (tests/reference_staging/),
on a data dir whose HealthLake catalog is imported: each staging model read whole (materialised into a
temporary table), best of three, both in the same run.

    python -m bench.sof_staging --data-dir .local/bench/work/dbt-n100000      (make bench-sof-staging)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from patient360.dbt import run_dbt  # noqa: E402
from patient360.settings import load_settings  # noqa: E402
from patient360.warehouse import connect_warehouse, relation_name  # noqa: E402

MODELS = ("patients", "allergy_intolerances", "conditions", "immunizations", "encounters", "heart_rate_observations")


def read_seconds(con: Any, relation: str, repeats: int = 3) -> tuple[int, float]:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        con.execute(f"create or replace temp table bench_read as select * from {relation}")
        best = min(best, time.perf_counter() - started)
    (rows,) = con.execute("select count(*) from bench_read").fetchone()
    return rows, best


def measure(data_dir: Path) -> dict[str, Any]:
    settings = load_settings(data_dir)
    selection = [f"+stg_healthlake__{m}" for m in MODELS] + [f"reference_stg_healthlake__{m}" for m in MODELS]
    built = run_dbt(settings, "run", "--select", *selection, "--vars", "{p360_reference_staging: true}", "--quiet",
                    target="local")
    if not built.ok:
        raise RuntimeError(f"dbt run failed (exit {built.returncode}); see {built.log_path}")
    figures: dict[str, Any] = {}
    with connect_warehouse(settings) as con:
        for model in MODELS:
            rows, viewdef_s = read_seconds(con, relation_name(con, f"stg_healthlake__{model}"))
            _, hand_s = read_seconds(con, relation_name(con, f"reference_stg_healthlake__{model}"))
            figures[model] = {"rows": rows, "viewdefinition_s": round(viewdef_s, 3), "hand_written_s": round(hand_s, 3),
                              "hand_written_over_viewdefinition": round(hand_s / viewdef_s, 2) if viewdef_s else None}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sof_staging", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a data dir with an imported HealthLake catalog")
    args = parser.parse_args(argv)
    figures = measure(args.data_dir)
    print(f"{'staging model':<26}{'rows':>10}{'ViewDefinition s':>18}{'hand-written s':>16}{'ratio':>8}")
    for model, row in figures.items():
        print(f"{model:<26}{row['rows']:>10,}{row['viewdefinition_s']:>18}{row['hand_written_s']:>16}"
              f"{row['hand_written_over_viewdefinition']:>8}")
    out = REPO / "bench" / "results" / "sof_staging.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
