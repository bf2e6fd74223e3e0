"""Where export batches go: a folder or an S3 prefix. A batch becomes visible only when complete (a rename
in a folder; an S3 PUT is atomic), so a killed export leaves no half file a consumer could read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from patient360.sync.s3 import S3Location, ensure_bucket, list_keys, s3_client


class Destination(Protocol):
    def put(self, local_file: Path, name: str) -> str: ...

    def names(self) -> list[str]: ...

    def describe(self) -> str: ...


class FolderDestination:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, local_file: Path, name: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / name
        partial = self.folder / f".{name}.partial"  # hidden until renamed: same file system, atomic
        shutil.copyfile(local_file, partial)
        os.replace(partial, target)
        return str(target)

    def names(self) -> list[str]:
        if not self.folder.exists():
            return []
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))

    def describe(self) -> str:
        return str(self.folder)


class S3Destination:
    def __init__(self, location: S3Location, client: Any) -> None:
        self.location, self.client = location, client

    def put(self, local_file: Path, name: str) -> str:
        ensure_bucket(self.client, self.location.bucket)
        self.client.upload_file(str(local_file), self.location.bucket, self.location.key(name))
        return self.location.url(name)

    def names(self) -> list[str]:
        return [key.rsplit("/", 1)[-1] for key in list_keys(self.client, self.location)]

    def describe(self) -> str:
        return self.location.url()


def open_destination(spec: str, *, s3_endpoint_url: str | None, region: str | None) -> Destination:
    """A folder path or ``s3://bucket/prefix``."""
    if spec.startswith("s3://"):
        return S3Destination(S3Location.parse(spec), s3_client(s3_endpoint_url, region))
    return FolderDestination(Path(spec).expanduser().resolve())
