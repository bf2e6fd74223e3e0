"""Benchmark the wearable stream on Kinesis: produce (boto3 put_records, 500 per call) and ingest (the Kinesis
landing, rows and shard checkpoints per transaction) throughput, next to the Kafka figures.

    python -m bench.kinesis_stream [--events 20000]

Uses KINESIS_ENDPOINT_URL when set (or AWS), else starts the project's kinesalite (`make services`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from patient360.local_aws.streaming.kinesis import client as kinesis_client  # noqa: E402
from patient360.local_aws.streaming.kinesis.landing import landing_for  # noqa: E402
from patient360.local_aws.streaming.kinesis.server import kinesalite_for  # noqa: E402
from patient360.settings import load_settings  # noqa: E402
from simulators.wearables.events import generate_events  # noqa: E402
from simulators.wearables.faults import with_faults  # noqa: E402

STREAM = "wearables_bench"
SHARDS = 3


def measure(events: int = 20_000, minutes: int = 600) -> dict[str, Any]:
    settings = load_settings()
    kinesis = settings.kinesis
    if not kinesis.endpoint_url and not kinesis.region and not kinesis.kinesalite.is_file():
        return {"skipped": f"kinesalite is not installed at {kinesis.kinesalite}: run `make services`"}
    local = kinesalite_for(kinesis.kinesalite) if not (kinesis.endpoint_url or kinesis.region) else None
    with tempfile.TemporaryDirectory() as tmp, (local or nullcontext(kinesis.endpoint_url)) as endpoint:
        client = kinesis_client.kinesis_client(kinesis, endpoint)
        kinesis_client.ensure_stream(client, STREAM, SHARDS)
        patients = [f"bench-{n:05d}" for n in range(max(1, events // minutes))]
        records = list(with_faults(generate_events(patients, seed=7, minutes=minutes), seed=7,
                                   duplicate_rate=0.01, malformed_rate=0.01))
        produced = kinesis_client.produce_records(records, client=client, stream=STREAM)
        started = time.perf_counter()
        landed = landing_for(client, STREAM, kinesis.external_schema, Path(tmp), idle_sleep_s=0.05).run()
        ingest_s = time.perf_counter() - started
    return {
        "endpoint": "kinesalite" if local else (endpoint or "AWS"), "shards": SHARDS,
        "produce_records": produced.total, "produce_calls": produced.calls, "produce_retried": produced.retried,
        "produce_events_per_s": round(produced.events_per_second), "ingest_records": landed.landed,
        "ingest_transactions": landed.batches, "ingest_events_per_s": round(landed.landed / ingest_s),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    figures = measure(parser.parse_args().events)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
