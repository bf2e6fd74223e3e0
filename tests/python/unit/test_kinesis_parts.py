"""The Kinesis parts that need no server: the stream-kind setting, explicit boto3 options, PutRecords batches and
the order shards are read in across a reshard."""

from __future__ import annotations

import pytest

from patient360.local_aws.streaming.kinesis.client import MAX_RECORDS_PER_CALL, batches, produce_records
from patient360.local_aws.streaming.kinesis.landing import Checkpoint, readable_shards
from patient360.settings import SettingsError, load_settings
from simulators.wearables.faults import Record


def test_stream_kind_is_msk_by_default_and_validated() -> None:
    assert load_settings(environ={}).stream_kind == "msk"
    settings = load_settings(environ={"P360_STREAM_KIND": "kinesis"})
    assert (settings.stream_kind, settings.stream_name, settings.stream_schema) == (
        "kinesis", "wearables_stream", "from_kds")
    with pytest.raises(SettingsError, match="P360_STREAM_KIND"):
        load_settings(environ={"P360_STREAM_KIND": "kafka"})
    assert settings.child_env()["P360_STREAM_KIND"] == "kinesis"


def test_boto3_options_are_passed_explicitly() -> None:
    aws = load_settings(environ={"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"})
    assert aws.kinesis.client_config(None) == {
        "region_name": "eu-west-1", "aws_access_key_id": "AKIA", "aws_secret_access_key": "s",
        "aws_session_token": None}
    local = load_settings(environ={}).kinesis.client_config("http://127.0.0.1:4567")
    assert local["endpoint_url"] == "http://127.0.0.1:4567" and local["region_name"] == "us-east-1"
    assert local["aws_access_key_id"] == "local", "kinesalite needs some credentials, never the user's"


def test_put_records_batches_hold_at_most_500_records() -> None:
    records = [Record(b"p", b"{}", "event")] * 1234
    sizes = [len(b) for b in batches(records)]
    assert sizes == [MAX_RECORDS_PER_CALL, MAX_RECORDS_PER_CALL, 234]


def test_children_are_read_only_after_their_parents_are_read_to_the_end() -> None:
    shards = [{"ShardId": "s0"}, {"ShardId": "s1"}, {"ShardId": "s2", "ParentShardId": "s0"},
              {"ShardId": "s3", "ParentShardId": "s0"},
              {"ShardId": "s4", "ParentShardId": "s1", "AdjacentParentShardId": "s2"}]
    assert readable_shards(shards, {}) == ["s0", "s1"]
    done = {"s0": Checkpoint("9", True)}
    assert readable_shards(shards, done) == ["s1", "s2", "s3"]
    done |= {"s1": Checkpoint("5", True), "s2": Checkpoint("7", True)}
    assert readable_shards(shards, done) == ["s3", "s4"]
    # a parent no longer listed (past the retention period) holds nothing left to read
    assert readable_shards([{"ShardId": "s9", "ParentShardId": "gone"}], {}) == ["s9"]


class RefusingKinesis:
    """A stand-in client whose first PutRecords refuses every third record (as a throttled shard does)."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, object]]) -> dict[str, object]:  # noqa: N803
        self.calls.append([r["Data"] for r in Records])  # type: ignore[misc]
        refuse = len(self.calls) == 1
        results = [{"ErrorCode": "ProvisionedThroughputExceededException"} if refuse and i % 3 == 0
                   else {"SequenceNumber": str(i), "ShardId": "shardId-000000000000"} for i in range(len(Records))]
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_refused_records_are_sent_again_and_only_those() -> None:
    records = [Record(f"p{i % 4}".encode(), f'{{"n": {i}}}'.encode(), "event") for i in range(10)]
    client = RefusingKinesis()
    report = produce_records(records, client=client, stream="s")
    assert client.calls[1] == [records[i].value for i in (0, 3, 6, 9)], "exactly the refused ones, in order"
    assert (report.calls, report.retried, report.total) == (2, 4, 10)
