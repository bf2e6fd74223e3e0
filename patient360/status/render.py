"""A collected status as tables, one per section that has something to say."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from patient360.status.collect import Status

NUMERIC = {"rows", "resources", "partition", "next offset", "landed rows", "loaded", "rejected", "lag (ms)"}


def render_status(status: Status, out: Console) -> None:
    """Tables of a collected status (counts, names and times only)."""
    sections: list[tuple[str, tuple[str, ...], Sequence[Sequence[str]]]] = [
        ("source tables", ("relation", "rows"),
         [(f"{c.database}.{c.schema}.{c.table}", str(c.rows)) for c in status.source_tables]),
        ("models", ("relation", "rows"), [(f"{c.database}.{c.schema}.{c.table}", str(c.rows)) for c in status.models]),
        ("HealthLake import jobs", ("job", "submitted at", "loaded", "rejected"),
         [(j.job_id, j.submitted_at, str(j.resources_loaded), str(j.resources_rejected)) for j in status.import_jobs]),
        ("HealthLake rejections by reason", ("reason", "resources"),
         [(reason, str(n)) for reason, n in status.rejections_by_reason.items()]),
        ("FHIR references to no known patient (fct_unresolved_patient_references)", ("resource type", "resources"),
         [(resource_type, str(n)) for resource_type, n in status.unresolved_references.items()]),
        ("wearable stream: stored offsets (next to read)",
         ("topic", "partition", "next offset", "landed rows", "updated at"),
         [(o.topic, str(o.partition), str(o.next_offset), str(o.landed_rows), o.updated_at)
          for o in status.stream_offsets]),
        ("wearable stream on Kinesis: shard checkpoints",
         ("stream", "shard", "last sequence number", "read to end", "lag (ms)", "landed rows", "updated at"),
         [(k.stream, k.shard_id, k.sequence_number or "-", "yes" if k.finished else "no",
           "-" if k.millis_behind_latest is None else str(k.millis_behind_latest), str(k.landed_rows), k.updated_at)
          for k in status.kinesis_shards]),
        ("front desk zero-ETL: integration table state",
         ("table", "state", "rows", "last change applied", "last batch lag", "reason"), _replication_rows(status)),
        ("source freshness", ("source", "status", "last loaded at", "age"), _freshness_rows(status)),
    ]
    for title, columns, rows in sections:
        if rows:
            out.print(_table(title, columns, rows))


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in NUMERIC else "left")
    for row in rows:
        table.add_row(*row)
    return table


def _seconds(value: float | None, template: str) -> str:
    return "-" if value is None else template.format(value)


def _replication_rows(status: Status) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in status.replication:
        colour = "green" if r.state == "Synced" else "red"
        rows.append((r.table, f"[{colour}]{r.state}[/{colour}]", "-" if r.rows is None else str(r.rows),
                     _seconds(r.seconds_since_update, "{:.0f} s ago"), _seconds(r.last_batch_lag_seconds, "{:.2f} s"),
                     r.reason or ""))
    return rows


def _freshness_rows(status: Status) -> list[tuple[str, ...]]:
    colours = {"pass": "green", "warn": "yellow"}
    rows: list[tuple[str, ...]] = []
    for f in status.freshness:
        colour = colours.get(f.status, "red")
        age = _seconds(None if f.age_seconds is None else f.age_seconds / 60, "{:.1f} min")
        rows.append((f.source, f"[{colour}]{f.status}[/{colour}]", f.max_loaded_at or "never", age))
    return rows
