"""The stored watermark of an export: the last ``last_updated_at`` a complete batch holds.

Written only after the batch's file is complete at the destination, by an atomic rename: a process killed
before that repeats the batch whole (same rows, same file name), a reader never sees half a state file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Watermark:
    last_updated_at: datetime | None  # None: nothing exported yet
    batches: int = 0
    rows: int = 0


def state_path(state_dir: Path, destination: str, profile: str) -> Path:
    """One state file per (destination, profile): each consumer keeps its own position."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in destination).strip("_")[-80:]
    return state_dir / f"{safe}__{profile}.json"


def read_watermark(path: Path) -> Watermark:
    if not path.exists():
        return Watermark(None)
    data = json.loads(path.read_text(encoding="utf-8"))
    stamp = data.get("last_updated_at")
    return Watermark(datetime.fromisoformat(stamp) if stamp else None, int(data["batches"]), int(data["rows"]))


def store_watermark(path: Path, watermark: Watermark) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(watermark)
    data["last_updated_at"] = watermark.last_updated_at.isoformat() if watermark.last_updated_at else None
    partial = path.with_suffix(".json.partial")
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
