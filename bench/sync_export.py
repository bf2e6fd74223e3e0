"""Figure 7, activation: initial export throughput (rows/s) and the latency of an incremental sync after 1% of
the patients changed, on a data dir whose warehouse is built (figure 4's, or any `patient360 run`).

    python -m bench.sync_export --data-dir .local/bench/work/dbt-n1000      (alone, on a built warehouse)
    make bench SCALE=100k                                                   (figures 4-7 at 100k patients)

The change is the write-back itself: outreach events for 1% of the patients imported with
`patient360 sync import-engagement` (the same code), then the dbt build of what depends on them (timed
apart), then one incremental export timed from start to the watermark stored.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from patient360.settings import load_settings, load_sync_settings  # noqa: E402
from patient360.sync.destinations import FolderDestination  # noqa: E402
from patient360.sync.run import import_engagement, sync_export  # noqa: E402
from patient360.warehouse import connect_warehouse, relation_name  # noqa: E402


def _patient_ids(settings: Any) -> list[str]:
    with connect_warehouse(settings) as con:
        return [row[0] for row in con.execute(
            f"select patient_id from {relation_name(con, 'patient_360')} order by patient_id").fetchall()]


def measure(data_dir: Path, *, changed_share: float = 0.01) -> dict[str, Any]:
    settings = load_settings(data_dir)
    sync = load_sync_settings(settings)
    out = data_dir / "bench-sync"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(data_dir / "sync" / "state", ignore_errors=True)
    destination = FolderDestination(out)
    initial = sync_export(settings, sync, profile="care_team", destination=destination, initial=True)
    assert initial is not None, "patient_360_sync is empty"
    ids = _patient_ids(settings)
    changed = ids[:: max(1, round(1 / changed_share))]
    events = data_dir / "bench-outreach"
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # later than any earlier outreach: a change
    (events / "outreach.csv").write_text("patient_id,event_type,occurred_at\n" + "".join(
        f"{pid},reached,{now}\n" for pid in changed), encoding="utf-8")
    started = time.perf_counter()
    report, build = import_engagement(settings, sync, str(events), build=True)
    write_back_s = time.perf_counter() - started
    assert build is not None and build.ok, build.failure_lines() if build else "no build"
    incremental = sync_export(settings, sync, profile="care_team", destination=destination, initial=False)
    assert incremental is not None and incremental.rows == len(changed), (incremental, len(changed))
    return {
        "patients": len(ids), "initial_rows": initial.rows, "initial_s": round(initial.seconds, 3),
        "initial_rows_per_s": round(initial.rows / initial.seconds), "changed_patients": len(changed),
        "write_back_rows": report.rows, "write_back_import_and_build_s": round(write_back_s, 2),
        "incremental_rows": incremental.rows, "incremental_sync_s": round(incremental.seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a data dir with a built warehouse")
    parser.add_argument("--changed-share", type=float, default=0.01)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.data_dir, changed_share=args.changed_share), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
