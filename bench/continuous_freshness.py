"""End-to-end freshness in continuous mode: wearable event produced -> visible in patient_360, p50 / p95.

A fresh data dir gets a synthetic FHIR population imported into the HealthLake stand-in, then
`patient360 continuous` runs for --duration seconds: a local tansu broker, events stamped "now" at --rate per
second, `ingest --follow` and `replicate` (private MariaDB, front-desk operations trickling in) as child
processes, and `dbt build --select source:wearables_msk+ source:front_desk+` every --interval seconds. Every
event is a sample: visible once patient_360.last_wearable_event_at for its patient reaches its event time.
Figures are printed and saved to bench/results/continuous_freshness.json. Figures are for this machine.

Usage: python bench/continuous_freshness.py [--duration 180] [--interval 10] [--rate 20] [--dbt-command build]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))

from patient360.settings import load_settings  # noqa: E402


def patient360(data_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = load_settings(data_dir).child_env()
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.run([str(BIN / "patient360"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--wearers", type=int, default=20)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--dbt-command", choices=["build", "run"], default="build")
    parser.add_argument("--front-desk", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "continuous_freshness.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p360-bench-continuous-") as tmp:
        data_dir = Path(tmp)
        export = data_dir / "export"
        for step in (
            ("simulate", "fhir", "--patients", str(args.patients), "--seed", "42", "--out", str(export)),
            ("healthlake", "import", str(export)),
        ):
            done = patient360(data_dir, *step, timeout=900)
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
        raw = data_dir / "continuous.json"
        run = patient360(
            data_dir, "continuous", "--interval", str(args.interval), "--duration", str(args.duration),
            "--rate", str(args.rate), "--wearers", str(args.wearers), "--dbt-command", args.dbt_command,
            "--front-desk", args.front_desk, "--results", str(raw), timeout=args.duration + 900,
        )
        print(run.stdout, end="")
        if run.returncode != 0 or not raw.exists():
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        result = json.loads(raw.read_text())
    result["summary"]["patients"] = args.patients
    result["summary"]["wearers"] = args.wearers
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2), encoding="utf-8")
    s = result["summary"]
    print(f"\nproduced -> visible in patient_360: p50 {s['freshness_p50_s']:.2f} s, p95 {s['freshness_p95_s']:.2f} s "
          f"({s['samples_visible']} samples, interval {s['interval_s']:g} s, dbt {s['dbt_command']}, "
          f"{s['cores']} cores); saved to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
