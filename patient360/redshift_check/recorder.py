"""Record every statement dbt would send to Redshift, with no cluster: the real `dbt build --target redshift`
(full, then incremental against a catalog holding every model), `dbt source freshness` and the documented
run-operations, through a stand-in redshift_connector connection (fake_warehouse). Writes one JSON line per
statement (phase, node, kind, sql) to target/redshift_statements.jsonl.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from patient360.redshift_check import fake_warehouse
from patient360.redshift_check.fake_warehouse import FakeConnection, Relation, WarehouseState
from patient360.settings import PROJECT_DIR, patched_environ

STATEMENTS_FILE = "redshift_statements.jsonl"
# Any value does: the stand-in connection never reaches a host. Named so a leak is obvious.
OFFLINE_PROFILE_ENV = {
    "REDSHIFT_HOST": "redshift.offline.invalid",
    "REDSHIFT_USER": "offline_recorder",
    "REDSHIFT_PASSWORD": "not-a-secret",
    # The URI form of CREATE EXTERNAL SCHEMA ... FROM MSK: sqlfluff 4.5 does not parse the CLUSTER_ARN form.
    "P360_MSK_BOOTSTRAP_URI": "b-1.offline.kafka.eu-west-1.amazonaws.com:9098",
}
MATERIALIZATIONS = {"table": "table", "incremental": "table", "view": "view", "materialized_view": "materialized_view",
                    "seed": "table"}
# The run-operations the README documents for a Redshift user.
RUN_OPERATIONS = ("create_wearables_external_schema",)


@dataclass(frozen=True)
class Statement:
    phase: str  # full | incremental | freshness | operation:<macro>
    node: str
    kind: str
    sql: str


_KINDS: tuple[tuple[str, str], ...] = (
    (r"create\s+materialized\s+view", "materialized_view"),
    (r"(create|alter)\s+(or\s+replace\s+)?view", "view"),
    (r"create\s+(temporary\s+|temp\s+)?table", "table"),
    (r"(create|attach|detach|drop)\s+masking\s+policy", "masking_policy"),
    (r"create\s+external\s+schema", "external_schema"),
    (r"(create|drop)\s+schema", "schema"),
    (r"(grant|revoke)\b", "grant"),
    (r"insert\b", "insert"),
    (r"delete\b", "delete"),
    (r"(merge|update)\b", "merge"),
    (r"alter\s+table", "alter_table"),
    (r"drop\b", "drop"),
    (r"refresh\s+materialized\s+view", "refresh"),
    (r"(begin|commit|rollback)\b", "transaction"),
    (r"select\s+pg_backend_pid\(\)", "session"),  # sent by dbt-redshift on every new connection
)
_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)
_CATALOG = re.compile(r"\b(information_schema|pg_[a-z_]+|svv_[a-z_]+|stv_[a-z_]+)\b")


def statement_kind(sql: str, node: str) -> str:
    """What a statement does, from its leading keywords (and its node for SELECTs)."""
    body = _COMMENT.sub("", sql).strip().lower()
    body = re.sub(r"^\(\s*", "", body)
    for pattern, kind in _KINDS:
        if re.match(pattern, body):
            return kind
    if node.startswith("test."):
        return "test"
    if node.startswith("source."):
        return "freshness"
    return "catalog" if _CATALOG.search(body) else "query"


def manifest_relations(manifest: Any) -> tuple[list[Relation], dict[str, tuple[tuple[str, str], ...]]]:
    """Every model and seed as the relation it becomes, with its yml columns; contracts per node."""
    relations: list[Relation] = []
    contracts: dict[str, tuple[tuple[str, str], ...]] = {}
    for node in manifest.nodes.values():
        if node.resource_type.value not in ("model", "seed"):
            continue
        columns = tuple((c.name, (c.data_type or "character varying")) for c in node.columns.values())
        kind = MATERIALIZATIONS.get(node.config.materialized, "table")
        relations.append(Relation(node.database, node.schema, node.alias, kind, columns, node.unique_id))
        if node.config.contract.enforced:
            contracts[node.unique_id] = columns
    return relations, contracts


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.phase = ""

    def record(self, node: str, sql: str) -> None:
        self.statements.append(Statement(self.phase, node, statement_kind(sql, node), sql.strip()))


@contextmanager
def offline_redshift(log: StatementLog, state_ref: list[WarehouseState]) -> Iterator[None]:
    """redshift_connector.connect returns a recording connection; add_query names the node it runs for."""
    from dbt.adapters.redshift.connections import RedshiftConnectionManager

    original_add_query: Callable[..., Any] = RedshiftConnectionManager.add_query

    def add_query(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        connection = self.get_thread_connection()
        fake_warehouse.set_current_node(connection.name if connection else None)
        return original_add_query(self, sql, *args, **kwargs)

    def connect(**_: Any) -> FakeConnection:
        return FakeConnection(log.record, state_ref[0])

    # the URI form of the MSK external schema is the one recorded: a cluster ARN set here is hidden
    with mock.patch("redshift_connector.connect", connect), \
            mock.patch.object(RedshiftConnectionManager, "add_query", add_query), \
            patched_environ(OFFLINE_PROFILE_ENV, remove=("P360_MSK_CLUSTER_ARN",)):
        yield


def _invoke(runner: Any, args: Sequence[str], project_dir: Path, allow_failure: bool = False) -> Any:
    common = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir / "profiles"),
              "--target", "redshift"]
    result = runner.invoke([*args, *common])
    if not result.success and not allow_failure:
        raise RuntimeError(f"dbt {' '.join(args)} failed for {project_dir} against the offline Redshift: "
                           f"{result.exception}")
    return result


def record(project_dir: Path = PROJECT_DIR, target_path: Path | None = None) -> list[Statement]:
    """Run the full build, the incremental build, freshness and the run-operations; every statement, in order."""
    from dbt.cli.main import dbtRunner

    if not (project_dir / "dbt_project.yml").is_file():
        raise ValueError(f"{project_dir} is not a dbt project: no dbt_project.yml there")
    target_path = target_path or project_dir / "target" / "redshift_check"
    log = StatementLog()
    state_ref = [WarehouseState([], existing=False)]
    with offline_redshift(log, state_ref):
        parsed = _invoke(dbtRunner(), ["parse", "--quiet", "--target-path", str(target_path)], project_dir)
        manifest = parsed.result
        relations, contracts = manifest_relations(manifest)
        runner = dbtRunner(manifest=manifest)
        build = ["build", "--threads", "1", "--quiet", "--exclude-resource-type", "unit_test",
                 "--target-path", str(target_path)]
        for phase, existing in (("full", False), ("incremental", True)):
            state_ref[0] = WarehouseState(relations, existing=existing, contract_columns=contracts)
            log.phase = phase
            _invoke(runner, build, project_dir)
        log.phase = "freshness"
        freshness = ["source", "freshness", "--threads", "1", "--quiet", "--output", str(target_path / "sources.json")]
        _invoke(runner, freshness, project_dir)
        for operation in RUN_OPERATIONS:
            log.phase = f"operation:{operation}"
            _invoke(runner, ["run-operation", operation, "--quiet"], project_dir)
        # Analyses are not sent by a build, but users run them on Redshift: compiled (not recorded) for checking.
        log.phase = "compile:analyses"
        analyses = ["compile", "--select", "resource_type:analysis", "--quiet", "--target-path", str(target_path)]
        _invoke(runner, analyses, project_dir)
    return [s for s in log.statements if s.phase != "compile:analyses"]


def compiled_analyses(target_path: Path) -> list[Statement]:
    """The statements of every compiled analysis (a file may hold several, e.g. the masking-policy DDL)."""
    import sqlparse

    statements = []
    for path in sorted((target_path / "compiled").glob("*/analyses/**/*.sql")):
        for sql in sqlparse.split(path.read_text()):
            if sql.strip().rstrip(";").strip():
                node = f"analysis.{path.stem}"
                statements.append(Statement("analysis", node, statement_kind(sql, node), sql.strip().rstrip(";")))
    return statements


def write_statements(statements: Sequence[Statement], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for statement in statements:
            out.write(json.dumps(asdict(statement)) + "\n")
    return path


def read_statements(path: Path) -> list[Statement]:
    return [Statement(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
