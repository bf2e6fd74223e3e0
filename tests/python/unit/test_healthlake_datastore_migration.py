"""A data dir from before the versioned datastore (stored NDJSON files per type) keeps its resources: the next
import moves them into the store first, once, and a failed job leaves them where they were."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from patient360.local_aws.healthlake import bulk_import
from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from tests.python.support import HEALTHLAKE_DB


def condition(resource_id: str, text: str) -> str:
    return json.dumps({"resourceType": "Condition", "id": resource_id, "code": {"text": text}})


def legacy_data_dir(root: Path) -> Path:
    store = bulk_import.datastore_dir(root, HEALTHLAKE_DB) / "Condition"
    store.mkdir(parents=True)
    first = condition("c1", "old") + "\n" + condition("c2", "old") + "\n"
    (store / "00000000000000000001-old1.ndjson").write_text(first)
    (store / "00000000000000000002-old2.ndjson").write_text(condition("c2", "updated") + "\n")
    return root


def conditions(data_dir: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(data_dir / "awsdatacatalog.duckdb"), read_only=True) as con:
        return con.execute(f"select id, code.text from {HEALTHLAKE_DB}.condition order by id").fetchall()


def test_legacy_files_move_into_the_store_once(tmp_path: Path) -> None:
    data_dir = legacy_data_dir(tmp_path / "data")
    (tmp_path / "Condition.000.ndjson").write_text(condition("c3", "new") + "\n")
    import_bulk_export(tmp_path / "Condition.000.ndjson", data_dir, HEALTHLAKE_DB)
    assert conditions(data_dir) == [("c1", "old"), ("c2", "updated"), ("c3", "new")]
    import_bulk_export(tmp_path / "Condition.000.ndjson", data_dir, HEALTHLAKE_DB)  # nothing left to migrate
    assert conditions(data_dir) == [("c1", "old"), ("c2", "updated"), ("c3", "new")]
    assert not list(bulk_import.datastore_dir(data_dir, HEALTHLAKE_DB).glob("*/*.ndjson"))


def test_a_failed_job_leaves_the_legacy_files_to_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = legacy_data_dir(tmp_path / "data")
    (tmp_path / "Condition.000.ndjson").write_text(condition("c3", "new") + "\n")

    def failing(*_: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(bulk_import.ImportJob, "import_file", failing)
    with pytest.raises(OSError, match="disk went away"):
        import_bulk_export(tmp_path / "Condition.000.ndjson", data_dir, HEALTHLAKE_DB)
    monkeypatch.undo()
    import_bulk_export(tmp_path / "Condition.000.ndjson", data_dir, HEALTHLAKE_DB)
    assert conditions(data_dir) == [("c1", "old"), ("c2", "updated"), ("c3", "new")]
