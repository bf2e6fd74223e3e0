"""Kinesis client side of the wearable stream (boto3): stream creation, the batched producer, a reshard.

Every client option comes from ``KinesisSettings.client_config`` (endpoint, region, credentials passed
explicitly). ``put_records`` takes up to 500 records per call; records the service refuses (throughput
exceeded, internal failure) are sent again, which, as on AWS, can land a record twice when the first attempt
had in fact been written: the models deduplicate on the event id.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from patient360.console import progress_bar
from patient360.settings import KinesisSettings
from simulators.wearables.faults import Record

MAX_RECORDS_PER_CALL = 500  # PutRecords limit: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_ATTEMPTS = 8
NO_KEY = "no-partition-key"  # a record without a key still needs a partition key (1-256 characters)


class KinesisProduceError(RuntimeError):
    """Records still refused after every retry."""


def kinesis_client(kinesis: KinesisSettings, endpoint_url: str | None) -> Any:
    import boto3  # imported late: most commands never touch Kinesis

    return boto3.client("kinesis", **kinesis.client_config(endpoint_url))


def ensure_stream(client: Any, stream: str, shards: int = 3, timeout_s: float = 60.0) -> None:
    """Create the stream if missing and wait until it is ACTIVE."""
    with suppress(client.exceptions.ResourceInUseException):  # it exists
        client.create_stream(StreamName=stream, ShardCount=shards)
    wait_active(client, stream, timeout_s)


def wait_active(client: Any, stream: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"Kinesis stream {stream} is still {status} after {timeout_s:.0f}s")
        time.sleep(0.1)


def open_shards(client: Any, stream: str) -> list[dict[str, Any]]:
    shards = list_shards(client, stream)
    return [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def list_shards(client: Any, stream: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    response = client.list_shards(StreamName=stream)
    shards.extend(response["Shards"])
    while response.get("NextToken"):
        response = client.list_shards(NextToken=response["NextToken"])
        shards.extend(response["Shards"])
    return shards


def split_widest_shard(client: Any, stream: str) -> tuple[str, list[str]]:
    """A reshard: split the open shard with the widest hash range in two. Returns (parent, children)."""
    before = {s["ShardId"] for s in list_shards(client, stream)}
    widest = max(open_shards(client, stream),
                 key=lambda s: int(s["HashKeyRange"]["EndingHashKey"]) - int(s["HashKeyRange"]["StartingHashKey"]))
    low, high = int(widest["HashKeyRange"]["StartingHashKey"]), int(widest["HashKeyRange"]["EndingHashKey"])
    client.split_shard(StreamName=stream, ShardToSplit=widest["ShardId"], NewStartingHashKey=str((low + high) // 2 + 1))
    wait_active(client, stream)
    children = sorted({s["ShardId"] for s in list_shards(client, stream)} - before)
    return widest["ShardId"], children


@dataclass
class KinesisProduceReport:
    stream: str
    sent: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    retried: int = 0  # records sent again after the service refused them
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def events_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.sent.items()))
        return (f"{self.total} records to Kinesis stream {self.stream} in {self.seconds:.2f}s "
                f"({self.events_per_second:,.0f}/s, {self.calls} PutRecords calls, {self.retried} retried): {kinds}")


def batches(records: Iterable[Record], max_records: int = MAX_RECORDS_PER_CALL) -> Iterator[list[Record]]:
    """Up to 500 records and 5 MiB per PutRecords call."""
    batch: list[Record] = []
    size = 0
    for record in records:
        record_size = len(record.value) + len(record.key or NO_KEY)
        if batch and (len(batch) == max_records or size + record_size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record_size
    if batch:
        yield batch


def put_batch(client: Any, stream: str, batch: list[Record], report: KinesisProduceReport) -> None:
    """One PutRecords call, then the refused records again (backing off) until all are in."""
    pending = [{"Data": r.value, "PartitionKey": (r.key or NO_KEY.encode()).decode("utf-8", "replace")}
               for r in batch]
    for attempt in range(MAX_ATTEMPTS):
        response = client.put_records(StreamName=stream, Records=pending)
        report.calls += 1
        if not response.get("FailedRecordCount"):
            return
        pending = [entry for entry, result in zip(pending, response["Records"], strict=True) if "ErrorCode" in result]
        report.retried += len(pending)
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise KinesisProduceError(f"{len(pending)} record(s) refused by Kinesis stream {stream} after {MAX_ATTEMPTS} "
                              "attempts (throughput exceeded? more shards, or a lower --rate)")


def produce_records(records: Iterable[Record], *, client: Any, stream: str, rate: float | None = None,
                    total: int | None = None, show_progress: bool = False) -> KinesisProduceReport:
    """Send records (partition key = patient id: a device's events stay in order in one shard)."""
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive (events per second), got {rate}")
    report = KinesisProduceReport(stream=stream)
    started = time.monotonic()
    with progress_bar(show_progress) as progress:
        task = progress.add_task(f"producing to {stream}", total=total)
        # At a set rate, small calls (about ten a second) so records do not wait for a full batch.
        per_call = MAX_RECORDS_PER_CALL if rate is None else max(1, min(MAX_RECORDS_PER_CALL, int(rate // 10)))
        for batch in batches(records, per_call):
            put_batch(client, stream, batch, report)
            report.sent.update(r.kind for r in batch)
            progress.advance(task, len(batch))
            if rate is not None:
                ahead = report.total / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    report.seconds = time.monotonic() - started
    return report
