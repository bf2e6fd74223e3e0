"""S3 for the sync: AWS S3, or the local stand-in (s3rver) when an endpoint URL is set.

The stand-in speaks the S3 REST API, so the same boto3 calls serve both; it takes any key pair (s3rver's
documented default S3RVER/S3RVER is used when no AWS credentials are configured) and path-style addressing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STAND_IN_KEY = "S3RVER"  # s3rver accepts any signature made with this key pair


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith("s3://") or len(url) <= len("s3://"):
            raise ValueError(f"not an s3:// URL: {url!r} (expected s3://bucket/prefix)")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        return cls(bucket, prefix.strip("/"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(name)}"


def s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """boto3 S3 client: the stand-in when ``endpoint_url`` is set, else AWS with the usual credential chain."""
    import boto3  # late: boto3 takes ~0.4 s to import and most verbs never touch S3
    from botocore.config import Config

    if endpoint_url is None:
        return boto3.client("s3", region_name=region)
    return boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
        aws_access_key_id=STAND_IN_KEY, aws_secret_access_key=STAND_IN_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def ensure_bucket(client: Any, bucket: str) -> None:
    """The stand-in starts empty: create the bucket if it is missing (on AWS it is provisioned)."""
    existing = {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def list_keys(client: Any, location: S3Location) -> list[str]:
    keys: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
        keys += [entry["Key"] for entry in page.get("Contents", [])]
    return sorted(keys)
