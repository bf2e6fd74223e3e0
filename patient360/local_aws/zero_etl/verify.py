"""Is the replica equal to the source? Full row-for-row diff plus an order-independent checksum."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from patient360.local_aws.zero_etl.mysql import connect
from patient360.settings import MySqlSettings


@dataclass(frozen=True)
class Comparison:
    source_rows: int
    replica_rows: int
    missing_in_replica: int  # rows (with multiplicity) the replica lacks
    extra_in_replica: int  # rows the replica has that the source does not
    source_checksum: str
    replica_checksum: str

    @property
    def equal(self) -> bool:
        return (self.missing_in_replica == 0 and self.extra_in_replica == 0
                and self.source_checksum == self.replica_checksum)

    def summary(self) -> str:
        verdict = "EQUAL" if self.equal else "DIFFERENT"
        return (f"{verdict}: source {self.source_rows} rows, replica {self.replica_rows} rows, "
                f"{self.missing_in_replica} missing, {self.extra_in_replica} extra, "
                f"checksums {self.source_checksum[:12]} / {self.replica_checksum[:12]}")


def canonical(value: Any) -> str:
    if value is None:
        return "\\N"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def checksum(rows: Iterable[Sequence[Any]]) -> str:
    """Order-independent: sha256 over the sorted canonical rows."""
    digest = hashlib.sha256()
    for line in sorted("\x1f".join(canonical(v) for v in row) for row in rows):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def source_rows(settings: MySqlSettings, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    con = connect(settings)
    try:
        with con.cursor() as cur:
            cur.execute(f"select {', '.join(f'`{c}`' for c in columns)} from `{settings.database}`.`{table}`")
            return list(cur.fetchall())
    finally:
        con.close()


def replica_rows(replica_path: Path, schema: str, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(replica_path), read_only=True) as con:
        cols = ", ".join(f'"{c}"' for c in columns)
        return con.execute(f'select {cols} from "{schema}"."{table}"').fetchall()


def compare_rows(source: list[tuple[Any, ...]], replica: list[tuple[Any, ...]]) -> Comparison:
    source_bag = Counter(tuple(canonical(v) for v in row) for row in source)
    replica_bag = Counter(tuple(canonical(v) for v in row) for row in replica)
    return Comparison(
        source_rows=len(source), replica_rows=len(replica),
        missing_in_replica=sum((source_bag - replica_bag).values()),
        extra_in_replica=sum((replica_bag - source_bag).values()),
        source_checksum=checksum(source), replica_checksum=checksum(replica),
    )


def compare(settings: MySqlSettings, replica_path: Path, table: str, columns: Sequence[str]) -> Comparison:
    return compare_rows(
        source_rows(settings, table, columns), replica_rows(replica_path, settings.database, table, columns)
    )
