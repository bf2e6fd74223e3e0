"""`patient360 sync export`: the patient 360 out to a folder or S3, as Parquet batches.

A batch is the rows whose ``last_updated_at`` lies in (stored watermark, upper bound], the upper bound read
first; a patient gone from every source is among them as a tombstone (``is_deleted`` true, patient_id set, the
rest null). Its file is named by that range, written whole to a local temporary file, put at the destination
(visible only when complete), and only then is the watermark stored. A process killed anywhere repeats the
batch: same range, same name, the file replaced, never a gap and never a half file. ``--initial`` exports every
live row (no tombstones: the consumer holds nothing to delete) and restarts the watermark. Logs name batches,
counts and times, never a value from a row.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from patient360.settings import Settings, SyncSettings
from patient360.sync.destinations import Destination
from patient360.sync.watermark import Watermark, read_watermark, state_path, store_watermark

_STAMP = "%Y%m%dT%H%M%S%f"


class ExportSource(Protocol):
    def upper_bound(self, after: datetime | None) -> tuple[datetime | None, int]: ...

    def write_parquet(self, after: datetime | None, upto: datetime, path: Path) -> int: ...


@dataclass(frozen=True)
class Batch:
    name: str
    rows: int
    after: datetime | None
    upto: datetime
    location: str
    seconds: float


def batch_name(profile: str, after: datetime | None, upto: datetime) -> str:
    start = after.strftime(_STAMP) if after else "initial"
    return f"patient_360__{profile}__{start}__{upto.strftime(_STAMP)}.parquet"


def _fault(sync: SyncSettings, point: str) -> None:
    """Test hook (P360_SYNC_FAULT): die here like a killed process would, no cleanup."""
    if sync.fault == point:
        os.kill(os.getpid(), signal.SIGKILL)


def export_once(source: ExportSource, destination: Destination, *, settings: Settings, sync: SyncSettings,
                profile: str, initial: bool = False) -> Batch | None:
    """One batch (None when nothing changed since the watermark)."""
    started = time.monotonic()
    state = state_path(settings.data_dir / "sync" / "state", destination.describe(), profile)
    watermark = Watermark(None) if initial else read_watermark(state)
    upto, _ = source.upper_bound(watermark.last_updated_at)
    if upto is None:
        return None
    name = batch_name(profile, watermark.last_updated_at, upto)
    with tempfile.TemporaryDirectory(prefix="p360-sync-") as scratch:
        local = Path(scratch) / name
        rows = source.write_parquet(watermark.last_updated_at, upto, local)
        _fault(sync, "kill_mid_write")
        location = destination.put(local, name)
    _fault(sync, "kill_before_watermark")
    previous = Watermark(None) if initial else watermark
    store_watermark(state, Watermark(upto, previous.batches + 1, previous.rows + rows))
    return Batch(name, rows, watermark.last_updated_at, upto, location, time.monotonic() - started)


def parse_every(text: str) -> float:
    """``10m``, ``1h``, ``30s``, ``1d`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"--every takes a duration like 30s, 10m, 1h or 1d, got {text!r}")
    return float(int(number) * units[unit])


def export_every(interval_s: float, export: Callable[[], Batch | None], report: Callable[[Batch | None], None],
                 *, stop: Callable[[], bool], sleep: Callable[[float], None] = time.sleep) -> int:
    """Sync on a cadence until ``stop()``; returns the number of rounds run."""
    rounds = 0
    while not stop():
        started = time.monotonic()
        report(export())
        rounds += 1
        remaining = interval_s - (time.monotonic() - started)
        while remaining > 0 and not stop():
            sleep(min(remaining, 1.0))
            remaining -= 1.0
    return rounds
