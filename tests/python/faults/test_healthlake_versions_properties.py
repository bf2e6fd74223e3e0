"""HealthLake import semantics, property-based: sequences of import / re-import of an older or newer copy /
delete (as a `ResourceType/id` list, a deleted resource, or a Bulk Data `_since` DELETE Bundle; from the
export's deleted/ folder or a --deletes file) against a plain model of the expected state. After every job
the HealthLake table holds exactly the model's live resources, each the copy the model says, and the job's
report and log count what the model counts.

Fast: DuckDB only (the importer's tables are read directly, no dbt), a few small jobs per example.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patient360.local_aws.healthlake.bulk_import import import_bulk_export
from tests.python.faults.conftest import Figures
from tests.python.support import HEALTHLAKE_DB

pytestmark = [pytest.mark.faults]

IDS = ("c0", "c1", "c2")
BASE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
STYLES = ("lastUpdated", "versionId", "both", "none")
DELETE_FORMS = ("literal", "resource", "bundle")
_dirs = itertools.count()


@dataclass(frozen=True)
class Put:
    resource_id: str
    version: int  # the copy's version (lastUpdated = BASE + version minutes, in some time zone)


@dataclass(frozen=True)
class Delete:
    resource_id: str
    version: int | None  # when the delete happened (None: a plain list, no time)


@dataclass
class Model:
    """Expected state: per id (version, deleted, marker of the stored copy); counts of the last job."""

    style: str
    state: dict[str, tuple[int | None, bool, str | None]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def version(self, v: int | None) -> int | None:
        return None if self.style == "none" else v

    def applies(self, resource_id: str, version: int | None, deleting: bool) -> bool:
        if resource_id not in self.state:
            return True
        stored_version, stored_deleted, _ = self.state[resource_id]
        if version is None or stored_version is None:
            return True  # no order on one side: last write wins
        if version != stored_version:
            return version > stored_version
        return deleting and not stored_deleted  # the same version again changes nothing; deleting it does

    def put(self, op: Put, marker: str) -> None:
        version = self.version(op.version)
        if self.applies(op.resource_id, version, False):
            self.state[op.resource_id] = (version, False, marker)
            self.counts["stored"] += 1
        else:
            self.counts["skipped"] += 1

    def delete(self, op: Delete, timed: bool) -> None:
        version = self.version(op.version) if timed else None
        if not self.applies(op.resource_id, version, True):
            self.counts["deletes_skipped"] += 1
            return
        live = op.resource_id in self.state and not self.state[op.resource_id][1]
        self.counts["deleted" if live else "deletes_not_found"] += 1
        self.state[op.resource_id] = (version, True, None)

    def live(self) -> dict[str, str]:
        return {i: marker for i, (_, deleted, marker) in self.state.items() if not deleted and marker}


def instant(version: int, offset_hours: int) -> str:
    """BASE + version minutes, written in another time zone: the order must survive the notation."""
    zone = timezone(timedelta(hours=offset_hours))
    moment = (BASE + timedelta(minutes=version)).astimezone(zone)
    text = moment.isoformat(timespec="seconds" if offset_hours % 2 else "milliseconds")
    return text.replace("+00:00", "Z")


def meta(style: str, version: int | None, offset: int) -> dict[str, Any]:
    if version is None or style == "none":
        return {}
    found: dict[str, Any] = {}
    if style in ("lastUpdated", "both"):
        found["lastUpdated"] = instant(version, offset)
    if style in ("versionId", "both"):
        found["versionId"] = str(version)
    return {"meta": found}


def condition(op: Put, style: str, marker: str, offset: int) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": op.resource_id, "code": {"text": marker},
            "subject": {"reference": "Patient/p"}, **meta(style, op.version, offset)}


def delete_line(op: Delete, style: str, form: str, offset: int) -> tuple[str, bool]:
    """The delete as a line of the given form, and whether it states when it happened."""
    timed = meta(style if style in ("lastUpdated", "both") else "none", op.version, offset)
    if form == "literal" or not timed:
        return f"Condition/{op.resource_id}", False
    if form == "resource":
        return json.dumps({"resourceType": "Condition", "id": op.resource_id, **timed}), True
    entry = {"request": {"method": "DELETE", "url": f"Condition/{op.resource_id}"}}
    return json.dumps({"resourceType": "Bundle", "type": "transaction", **timed, "entry": [entry]}), True


versions = st.integers(min_value=1, max_value=4)
operation = st.one_of(
    st.builds(Put, st.sampled_from(IDS), versions),
    st.builds(Delete, st.sampled_from(IDS), st.one_of(st.none(), versions)),
)
job = st.lists(operation, min_size=1, max_size=4)


def write_job(folder: Path, ops: list[Put | Delete], style: str, data: st.DataObject, model: Model) -> Path | None:
    """One export folder for a job (its puts in order, then its deletes); the model applies them likewise.
    Returns the --deletes file when the deletes go there rather than into deleted/."""
    folder.mkdir(parents=True)
    lines: list[str] = []
    for number, op in enumerate(o for o in ops if isinstance(o, Put)):
        marker = f"{folder.name}-{number}"
        lines.append(json.dumps(condition(op, style, marker, data.draw(st.integers(-5, 5)))))
        model.put(op, marker)
    if lines:
        (folder / "Condition.000.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    deletes = [o for o in ops if isinstance(o, Delete)]
    if not deletes:
        return None
    text = ""
    for op in deletes:
        line, timed = delete_line(op, style, data.draw(st.sampled_from(DELETE_FORMS)), data.draw(st.integers(-5, 5)))
        model.delete(op, timed)
        text += line + "\n"
    if data.draw(st.booleans(), label="deletes in deleted/"):
        (folder / "deleted").mkdir()
        (folder / "deleted" / "Condition.000.ndjson").write_text(text, encoding="utf-8")
        return None
    (folder.parent / f"{folder.name}-deletes.txt").write_text(text, encoding="utf-8")
    return folder.parent / f"{folder.name}-deletes.txt"


def stored(data_dir: Path) -> tuple[dict[str, str], tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "awsdatacatalog.duckdb"), read_only=True) as con:
        rows = dict(con.execute(f"select id, code.text from {HEALTHLAKE_DB}.condition").fetchall())
        logged = con.execute(
            "select resources_loaded, resources_skipped_older, resources_deleted, deletes_not_found, "
            "deletes_skipped_older from healthlake_import_log.jobs order by submitted_at desc limit 1"
        ).fetchone()
    assert logged is not None
    return rows, tuple(logged)


TOTALS: Counter[str] = Counter()


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(style=st.sampled_from(STYLES), jobs=st.lists(job, min_size=1, max_size=4), data=st.data())
def test_import_reimport_and_delete_sequences_match_the_model(
    tmp_path: Path, style: str, jobs: list[list[Put | Delete]], data: st.DataObject
) -> None:
    root = tmp_path / f"example-{next(_dirs)}"
    model = Model(style)
    for number, ops in enumerate(jobs):
        model.counts = Counter()
        deletes_file = write_job(root / f"job{number}", ops, style, data, model)
        report = import_bulk_export(root / f"job{number}", root / "data", HEALTHLAKE_DB, deletes=deletes_file)
        rows, logged = stored(root / "data")
        assert rows == model.live(), (number, ops)
        expected_counts = (model.counts["stored"], model.counts["skipped"], model.counts["deleted"],
                           model.counts["deletes_not_found"], model.counts["deletes_skipped"])
        outcome = report.outcome
        assert (report.loaded_total, report.skipped_older_total, report.deleted_total,
                sum(outcome.deletes_not_found.values()), sum(outcome.deletes_skipped_older.values())) \
            == expected_counts
        assert logged == expected_counts
        assert not report.rejected
        TOTALS.update(jobs=1, **{k: v for k, v in model.counts.items()})


def test_versions_property_figures(record_figures) -> None:  # type: ignore[no-untyped-def]
    """The figures of the property test above (it runs first in this module)."""
    assert TOTALS["jobs"] > 0, "the property test did not run"
    assert TOTALS["skipped"] > 0 and TOTALS["deleted"] > 0, TOTALS  # the examples exercised both paths
    record_figures(Figures(
        area="healthlake", test="import / re-import / delete sequences", records_in=TOTALS["stored"]
        + TOTALS["skipped"], records_checked=TOTALS["jobs"],
        faults_injected={"older_copies": TOTALS["skipped"], "deletes": TOTALS["deleted"]
                         + TOTALS["deletes_not_found"] + TOTALS["deletes_skipped"]},
        notes=f"{TOTALS['jobs']} jobs checked against the model",
    ))
