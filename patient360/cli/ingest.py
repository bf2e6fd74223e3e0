"""`patient360 ingest`: land the wearable stream like Redshift streaming ingestion (once, or following)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from patient360.cli.output import OK, info
from patient360.local_aws.streaming.landing import landing_for
from patient360.pipeline import endpoints
from patient360.pipeline.wearables import kinesis_landing_for
from patient360.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    ingest = sub.add_parser(
        "ingest", help="land the wearable topic in the warehouse (MSK streaming-ingestion stand-in)",
        epilog="Exactly once: rows and offsets are written in one transaction. Without --follow (a REFRESH of the "
               "streaming view): stops after --idle-polls empty polls. With --follow (AUTO REFRESH): until "
               "SIGTERM / Ctrl-C, exit 0. Broker: KAFKA_BOOTSTRAP_SERVERS, else `patient360 services start kafka`. "
               "P360_STREAM_KIND=kinesis: the Kinesis stream (KINESIS_ENDPOINT_URL, `services start kinesis` or AWS), "
               "rows and per-shard sequence-number checkpoints in one transaction, parents before child shards.",
    )
    ingest.add_argument("--follow", action="store_true", help="keep landing until stopped")
    ingest.add_argument("--once", dest="follow", action="store_false", help="land what is new, then stop (default)")
    ingest.add_argument("--idle-polls", type=int, default=3, help="empty polls that mean 'nothing new'")
    ingest.add_argument("--max-seconds", type=float, default=None, help="stop after this many seconds")
    ingest.add_argument("--max-batch-records", type=int, default=20_000, help="records per transaction")
    ingest.set_defaults(handler=ingest_verb)


def _landing(settings: Settings, args: argparse.Namespace) -> tuple[Any, str]:
    """(the landing of the configured stream kind, what it reads, for the log)."""
    stream = endpoints.require_stream(settings)
    if stream.kind == "kinesis":
        kinesis = kinesis_landing_for(settings, stream, fault=settings.landing_fault,
                                      max_records_per_shard=min(args.max_batch_records, 10_000))
        return kinesis, f"Kinesis stream {settings.kinesis.stream} ({stream.describe()})"
    landing = landing_for(settings.kafka, settings.data_dir, str(stream.address), fault=settings.landing_fault,
                          max_batch_records=args.max_batch_records)
    return landing, f"{settings.kafka.topic} from {stream.address}"


def ingest_verb(args: argparse.Namespace, settings: Settings) -> int:
    landing, source = _landing(settings, args)
    stop = threading.Event()
    if args.follow:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger("kafka").setLevel(logging.WARNING)
        info(f"landing {source} (SIGTERM / Ctrl-C stops)")
    report = landing.run(
        idle_polls=args.idle_polls, max_seconds=args.max_seconds, stop=stop, follow=args.follow,
        on_batch=(lambda r: logging.getLogger(__name__).info(r.summary())) if args.follow else None,
    )
    info(report.summary())
    return OK
