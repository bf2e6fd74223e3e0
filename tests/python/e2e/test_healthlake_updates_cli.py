"""`patient360 healthlake import` with updates and deletes, as a user runs it: an older copy is skipped, a newer
one replaces, the export's deleted/ folder and a --deletes file remove resources, a bad delete line is
rejected with file, line and reason, and the summary and the import log count all of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from tests.python.support import HEALTHLAKE_DB, run_cli


def condition(resource_id: str, text: str, last_updated: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": resource_id, "meta": {"lastUpdated": last_updated},
            "code": {"text": text}, "subject": {"reference": "Patient/p1"}}


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_reimport_skips_older_copies_and_applies_deletes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = [condition(f"c{n}", "first", "2024-01-01T00:00:00Z") for n in range(1, 5)]
    write(tmp_path / "full" / "Condition.000.ndjson", [json.dumps(c) for c in first])
    assert run_cli(data, "healthlake", "import", str(tmp_path / "full")).returncode == 0

    since = tmp_path / "since"
    write(since / "Condition.000.ndjson", [
        json.dumps(condition("c1", "older", "2023-12-31T23:00:00Z")),  # older: skipped
        json.dumps(condition("c2", "newer", "2024-01-01T02:00:00+01:00")),  # 01:00Z: newer
    ])
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"request": {"method": "DELETE", "url": "Condition/c3"}}]}
    write(since / "deleted" / "Condition.000.ndjson", [json.dumps(bundle)])
    deletes = write(tmp_path / "deletes.txt", ["Condition/c4", "Condition/c404", "not a reference"])
    result = run_cli(data, "healthlake", "import", str(since), "--deletes", str(deletes))
    assert result.returncode == 0, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())
    assert "1 resources loaded (Condition=1), 1 skipped (not newer than the stored version), 2 deleted " \
           "(1 deletes of absent resources, 0 older than the stored version), 1 rejected" in output, output
    assert "deletes.txt:3: bad delete: expected ResourceType/id" in output

    with duckdb.connect(str(data / "awsdatacatalog.duckdb"), read_only=True) as con:
        rows = con.execute(f"select id, code.text from {HEALTHLAKE_DB}.condition order by id").fetchall()
        logged = con.execute(
            "select resources_loaded, resources_skipped_older, resources_deleted, deletes_not_found, "
            "resources_rejected from healthlake_import_log.jobs order by submitted_at"
        ).fetchall()
    assert rows == [("c1", "first"), ("c2", "newer")]
    assert logged == [(4, 0, 0, 0, 0), (1, 1, 2, 1, 1)]


def test_a_missing_deletes_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    export = write(tmp_path / "export" / "Condition.000.ndjson", [json.dumps(condition("c1", "x", "2024-01-01"))])
    result = run_cli(tmp_path / "data", "healthlake", "import", str(export.parent), "--deletes",
                     str(tmp_path / "nowhere.txt"))
    assert result.returncode == 2
    assert "nowhere.txt does not exist" in " ".join(result.stderr.split())
