"""The whole pipeline (`patient360 run`) twice on the same data dir, then a full refresh:

* idempotence: the second run changes no mart or incremental table (hash of sorted rows, `as_of` pinned);
  `dbt build --full-refresh` gives the same tables as the incremental path;
* PHI hygiene: everything the runs print or log (CLI stdout/stderr, dbt logs and run results, the
  import's rejection log, broker / database / ingestor logs, messages of deliberately failing inputs)
  holds none of the generator's patient names, phone numbers, MRNs or birth dates;
* credentials: nothing secret is hard-coded in tracked files; profiles take every secret from env_var.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest

from simulators.fhir.population import PopulationConfig, generate_population
from simulators.front_desk.operations import clean_phone
from tests.python import support
from tests.python.faults.conftest import Figures
from tests.python.support import PROJECT_DIR

pytestmark = [pytest.mark.slow, pytest.mark.faults]

PATIENTS, SEED = 12, 5
RUN_ARGS = ["run", "--patients", str(PATIENTS), "--seed", str(SEED), "--show", "0", "--wearers", "4",
            "--wearable-days", "1"]
AS_OF = "{as_of: '2030-01-01 00:00:00'}"
# Columns that say when a row was delivered or loaded (Kafka arrival, landing refresh, dbt load time, and
# HealthLake's meta.lastUpdated, which every import write sets), not what it holds: a second run re-delivers
# the same records later. Everything else must be identical.
LOAD_TIME_COLUMN = re.compile(r"(^|_)(loaded_at|refresh_time|arrived_at)$|^(source_last|healthlake)_updated_at$")
# Data files, not logs: the exports, the HealthLake datastore, DuckDB files, MariaDB's data directory.
NOT_LOGS = {".duckdb", ".wal", ".ndjson", ".ibd", ".frm", ".MYD", ".MYI", ".MAD", ".MAI", ".lock", ".pid", ".sock"}


PRIVATE_BROKER = {"KAFKA_BOOTSTRAP_SERVERS": ""}  # a local broker per run, never an outside one


def patient360(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return support.run_cli(data_dir, *args, **{**PRIVATE_BROKER, **env})


def table_hashes(data_dir: Path) -> dict[str, tuple[int, str]]:
    """Every table dbt built (marts and incremental models): (rows, sha256 of its sorted rows)."""
    hashes: dict[str, tuple[int, str]] = {}
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'warehouse' and table_type = 'BASE TABLE' and table_schema like 'main%' "
            "order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_catalog = 'warehouse' "
                "and table_schema = ? and table_name = ? order by ordinal_position", [schema, table]).fetchall()
                if not LOAD_TIME_COLUMN.search(r[0])]
            rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in columns)} '
                               f'from "{schema}"."{table}"').fetchall()
            digest = hashlib.sha256()
            for line in sorted(repr(row) for row in rows):
                digest.update(line.encode())
            hashes[f"{schema}.{table}"] = (len(rows), digest.hexdigest())
            for position, column in enumerate(columns):  # to name the column that differs
                values = sorted(repr(row[position]) for row in rows)
                digest = hashlib.sha256("|".join(values).encode())
                hashes[f"{schema}.{table}.{column}"] = (len(rows), digest.hexdigest())
    return hashes


def build_pinned(data_dir: Path, *extra: str) -> None:
    result = support.run_dbt(data_dir, "build", "--vars", AS_OF, *extra, **PRIVATE_BROKER)
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("pipeline-twice")
    outputs: list[str] = []
    runs = []
    for _ in range(2):
        result = patient360(data_dir, *RUN_ARGS)
        outputs += [result.stdout, result.stderr]
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        build_pinned(data_dir)
        runs.append(table_hashes(data_dir))
    build_pinned(data_dir, "--full-refresh")
    full_refresh = table_hashes(data_dir)
    return {"data_dir": data_dir, "outputs": outputs, "runs": runs, "full_refresh": full_refresh}


def test_running_the_whole_pipeline_twice_changes_nothing(pipeline: dict[str, Any], record_figures) -> None:  # type: ignore[no-untyped-def]
    first, second = pipeline["runs"]
    assert "main_marts.patient_360" in first and first["main_marts.patient_360"][0] >= PATIENTS
    assert any(name.endswith("stg_wearables__events") for name in first)
    changed = sorted(name for name in first.keys() | second.keys() if first.get(name) != second.get(name))
    assert not changed, f"the second run changed {changed}"
    rows = sum(n for name, (n, _) in second.items() if name.count(".") == 1)
    record_figures(Figures(
        area="idempotence", test="patient360 run twice",
        faults_injected={"second_full_run": 1, "new_local_broker": 1},
        records_in=rows, records_checked=rows, lost=0, duplicated=0,
        notes=f"{sum(n.count('.') == 1 for n in second)} tables identical (sha256 of sorted rows)",
    ))


def test_full_refresh_gives_the_same_tables_as_the_incremental_path(pipeline: dict[str, Any], record_figures) -> None:  # type: ignore[no-untyped-def]
    incremental, full = pipeline["runs"][1], pipeline["full_refresh"]
    changed = sorted(name for name in incremental.keys() | full.keys() if incremental.get(name) != full.get(name))
    assert not changed, f"full refresh differs from the incremental path: {changed}"
    rows = sum(n for name, (n, _) in full.items() if name.count(".") == 1)
    record_figures(Figures(
        area="idempotence", test="full refresh == incremental",
        faults_injected={"full_refresh": 1}, records_in=rows, records_checked=rows,
        notes=f"{sum(n.count('.') == 1 for n in full)} tables identical",
    ))


# --- PHI hygiene -----------------------------------------------------------------------------------


def phi_values() -> dict[str, set[str]]:
    """The generator's truth for the population `patient360 run` makes: what must never be logged."""
    truth = generate_population(PopulationConfig(patients=PATIENTS, seed=SEED)).ground_truth.values()
    return {
        "name": {t.given_name for t in truth} | {t.family_name for t in truth},
        "phone": {t.phone for t in truth} | {clean_phone(t.phone) or t.phone for t in truth},
        "mrn": {t.mrn for t in truth},
        "birth_date": {t.birth_date.isoformat() for t in truth},
    }


def find_phi(text: str, values: dict[str, set[str]]) -> list[tuple[str, str]]:
    found = []
    for kind, items in values.items():
        for value in items:
            # names as whole words (a short family name may be a part of another word); the rest verbatim
            pattern = rf"(?<!\w){re.escape(value)}(?!\w)" if kind == "name" else re.escape(value)
            if re.search(pattern, text):
                found.append((kind, value))
    return found


def log_files(data_dir: Path) -> list[Path]:
    files = []
    for path in sorted(data_dir.rglob("*")):
        parts = set(path.relative_to(data_dir).parts)
        if not path.is_file() or path.suffix in NOT_LOGS or parts & {"exports", "healthlake", "bad-input"}:
            continue
        if "mariadb" in parts and not (path.suffix in {".err", ".log"} or path.name.endswith("error.log")):
            continue  # the server's data files; its error log is read
        if "mariadb" in parts and re.match(r".*-bin\.\d+$", path.name):
            continue
        files.append(path)
    return files


def failing_inputs(data_dir: Path, synthea_dir: Path) -> list[str]:
    """Deliberately bad inputs with patient data in them: what the tools say must not repeat it."""
    from simulators.fhir.population import write_bulk_export

    bad = data_dir / "bad-input"
    population = generate_population(PopulationConfig(patients=PATIENTS, seed=SEED))
    write_bulk_export(population, bad / "export")
    lines = (bad / "export" / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()
    broken = [lines[0][:-30], lines[1].replace('"birthDate":"', '"birthDate":"x'), "[" + lines[2] + "]"]
    third = json.loads(lines[3])
    third["resourceType"] = "Patinet"
    broken.append(json.dumps(third))
    (bad / "Patient.000.ndjson").write_text("\n".join(broken) + "\n", encoding="utf-8")
    said = []
    result = patient360(data_dir, "healthlake", "import", str(bad / "Patient.000.ndjson"), "--validate")
    said += [result.stdout, result.stderr]
    assert result.stdout.count("rejected") + result.stderr.count("rejected") >= 4, result.stderr
    # the wearables producer and the replicator pointed at nothing: their errors
    mrn = population.ground_truth[next(iter(population.ground_truth))].mrn
    for command in (["simulate", "wearables", "--patients", mrn], ["ingest", "--max-seconds", "3"]):
        result = patient360(data_dir, *command, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
        assert result.returncode == 2, result.stderr  # a clear error, not a crash
        said += [result.stdout, result.stderr]
    return said


def test_logs_and_errors_of_a_full_run_hold_no_patient_data(
    pipeline: dict[str, Any], synthea_dir: Path, record_figures
) -> None:  # type: ignore[no-untyped-def]
    data_dir: Path = pipeline["data_dir"]
    values = phi_values()
    assert all(values.values()) and len(values["mrn"]) == PATIENTS
    texts = {"cli output": "\n".join(pipeline["outputs"])}
    texts["failing inputs"] = "\n".join(failing_inputs(data_dir, synthea_dir))
    with duckdb.connect(str(data_dir / "awsdatacatalog.duckdb"), read_only=True) as con:
        reasons = [r[0] for r in con.execute("select reason from healthlake_import_log.rejected_resources").fetchall()]
    assert len(reasons) >= 4, "the deliberately bad lines were not rejected"
    texts["import rejection log"] = "\n".join(reasons)
    files = log_files(data_dir)
    names = {p.name for p in files}
    assert "dbt.log" in names and "run_results.json" in names and "tansu.log" in names, names
    for path in files:
        texts[str(path.relative_to(data_dir))] = path.read_text(encoding="utf-8", errors="replace")
    scanned = sum(len(t) for t in texts.values())

    # The check can fail: a planted value is found.
    planted = sorted(values["name"])[0], sorted(values["phone"])[0], sorted(values["mrn"])[0]
    for value in planted:
        assert find_phi(texts["cli output"] + f"\nnote: {value}\n", values), f"the grep misses {value!r}"

    leaks = {where: found for where, text in texts.items() if (found := find_phi(text, values))}
    assert not leaks, f"patient data in logs / messages: {leaks}"
    checked = sum(len(v) for v in values.values())
    record_figures(Figures(
        area="phi", test="no PHI in logs and error messages",
        faults_injected={"bad_import_lines": len(reasons), "unreachable_services": 2},
        records_in=checked, records_checked=checked, lost=0, duplicated=0,
        notes=f"{checked} PHI values searched in {len(texts)} sources ({scanned:,} characters); 0 found",
    ))


# --- credentials -----------------------------------------------------------------------------------

SECRET_ASSIGNMENT = re.compile(
    r"""(?i)\b(password|passwd|secret|token|api_key|access_key)\w*\s*[:=]\s*["']([^"'{}\s$]{4,})["']"""
)
# Throwaway credentials of servers the tests start on loopback; nothing real.
ALLOWED = {"p360-local-only"}


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True).stdout
    return [PROJECT_DIR / line for line in out.splitlines() if line]


def test_no_hard_coded_credentials_and_profiles_read_the_environment() -> None:
    found = []
    for path in tracked_files():
        if path.suffix not in {".py", ".yml", ".yaml", ".sql", ".cfg", ".toml", ".ini", ".sh", ".md", ".env"}:
            continue
        if not path.exists() or path.is_relative_to(PROJECT_DIR / "tests"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for match in SECRET_ASSIGNMENT.finditer(line):
                if match.group(2) not in ALLOWED:
                    found.append(f"{path.relative_to(PROJECT_DIR)}:{number}")
    assert not found, f"hard-coded secrets: {found}"
    assert SECRET_ASSIGNMENT.search('password = "hunter22"'), "the pattern must catch a planted secret"

    import yaml  # dbt's own dependency

    profiles = yaml.safe_load((PROJECT_DIR / "profiles" / "profiles.yml").read_text(encoding="utf-8"))
    redshift = profiles["patient360"]["outputs"]["redshift"]
    for key in ("host", "user", "password", "port", "dbname", "schema"):
        assert re.fullmatch(r"\{\{ env_var\('REDSHIFT_[A-Z]+'(, '[^']*')?\)( \| as_number)? \}\}",
                            str(redshift[key])), f"redshift.{key} must come from a REDSHIFT_* env var"
    assert "env_var('REDSHIFT_PASSWORD')" in redshift["password"], "no default for the password"
    for output in profiles["patient360"]["outputs"].values():
        for key, value in output.items():
            if re.search(r"(?i)pass|secret|token|key", key):
                assert "env_var(" in str(value), f"{key} is not read from the environment"
