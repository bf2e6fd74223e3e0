"""`patient360 sync` on bad input: exit 2 with a message naming what is wrong (no warehouse, no such source,
a bad cadence, a Redshift-only requirement)."""

from __future__ import annotations

from pathlib import Path

from tests.python.support import run_cli


def test_sync_bad_input_exits_2_naming_the_input(tmp_path: Path) -> None:
    no_warehouse = run_cli(tmp_path, "sync", "export")
    assert no_warehouse.returncode == 2 and "patient360 build" in no_warehouse.stderr
    (tmp_path / "warehouse.duckdb").touch()
    missing = tmp_path / "no-such-folder"
    no_source = run_cli(tmp_path, "sync", "import-engagement", str(missing), "--no-build")
    assert no_source.returncode == 2 and str(missing) in no_source.stderr
    bad_every = run_cli(tmp_path, "sync", "export", "--every", "soon")
    assert bad_every.returncode == 2 and "'soon'" in bad_every.stderr
    redshift_local_file = run_cli(tmp_path, "sync", "import-engagement", str(tmp_path), P360_TARGET="redshift")
    assert redshift_local_file.returncode == 2 and "s3://" in redshift_local_file.stderr
