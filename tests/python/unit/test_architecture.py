"""The layout holds: data flows one way (simulators -> patient360.local_aws -> dbt -> marts, composed by
patient360.pipeline and the CLI), no import cycle between modules or folders, every setting read in one place,
README and ARCHITECTURE.md naming what is in the tree."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from patient360.settings import VARIABLES, settings_table
from tests.python.support import PROJECT_DIR

CODE_ROOTS = ("patient360", "simulators", "bench", "orchestration/airflow/dags")
FIRST_PARTY = ("patient360", "simulators", "bench")
MAX_FUNCTION_LINES = 60


def python_files(*roots: str) -> list[Path]:
    return sorted(path for root in roots for path in (PROJECT_DIR / root).rglob("*.py"))


def module_name(path: Path) -> str:
    relative = path.relative_to(PROJECT_DIR).with_suffix("")
    parts = list(relative.parts)
    if parts[:3] == ["orchestration", "airflow", "dags"]:
        parts = ["dags", *parts[3:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every first-party module imported anywhere in the file (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in FIRST_PARTY}


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in python_files(*CODE_ROOTS)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            # `from package import module` names a module; `from module import function` names the module
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def folder_of(module: str, modules: set[str]) -> str:
    """A module's folder (package); a package's __init__ belongs to it. The top-level modules of a root package
    (patient360.settings, patient360.dbt, ...) are shared foundations, each its own node."""
    if any(other.startswith(module + ".") for other in modules):
        return module
    parent = module.rpartition(".")[0]
    return module if "." not in parent else parent


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph()
    assert len(graph) > 40, "the scan found too few modules to mean anything"
    assert cycles(graph) == []


def test_no_import_cycle_between_folders() -> None:
    graph = import_graph()
    modules = set(graph)
    folders: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        source = folder_of(module, modules)
        folders[source] |= {folder_of(t, modules) for t in targets} - {source}
    assert cycles(dict(folders)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_data_flows_one_way() -> None:
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("simulators"):
            assert not {t for t in targets if not t.startswith("simulators")}, f"{module} imports {targets}"
        if module.startswith("patient360.local_aws"):
            assert not {t for t in targets if t.startswith(("patient360.pipeline", "patient360.cli"))}, module
        if not module.startswith("patient360.cli") and module != "patient360.__main__":
            assert not {t for t in targets if t.startswith("patient360.cli")}, f"{module} imports the CLI"


def test_simulators_hold_only_the_generators() -> None:
    folders = {p.name for p in (PROJECT_DIR / "simulators").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"fhir", "front_desk", "wearables"}
    assert not list((PROJECT_DIR / "simulators").rglob("__main__.py")), "no module entry points in simulators"


def test_the_environment_is_read_only_in_settings() -> None:
    readers = [
        path.relative_to(PROJECT_DIR) for path in python_files(*CODE_ROOTS, "tests")
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == [Path("patient360/settings.py")]


def test_the_zero_etl_database_default_is_written_once_in_python() -> None:
    default = "front_desk" + "_zetl"  # spelled in two halves so this test is not a holder itself
    holders = [
        (path.relative_to(PROJECT_DIR), text.count(default))
        for path in python_files(*CODE_ROOTS, "tests") if default in (text := path.read_text(encoding="utf-8"))
    ]
    assert holders == [(Path("patient360/settings.py"), 1)]


def test_every_variable_the_code_names_is_declared() -> None:
    declared = {v.name for v in VARIABLES}
    named: set[str] = set()
    for path in python_files(*CODE_ROOTS):
        named |= set(re.findall(r'"((?:P360|KAFKA|FRONT_DESK_MYSQL|REDSHIFT)_[A-Z0-9_]+)"', path.read_text()))
    for path in [PROJECT_DIR / "profiles" / "profiles.yml", *(PROJECT_DIR / "models").rglob("*.yml"),
                 *(PROJECT_DIR / "macros").rglob("*.sql"), *(PROJECT_DIR / "models").rglob("*.sql")]:
        named |= set(re.findall(r"env_var\('([A-Z0-9_]+)'", path.read_text()))
    assert named - declared == set(), "declare these in patient360/settings.py VARIABLES"


def test_readme_configuration_table_is_the_declared_one() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "regenerate: python -c 'from patient360.settings import settings_table; " \
        "print(settings_table())'"


def test_readme_and_architecture_name_every_folder_of_the_tree() -> None:
    docs = (PROJECT_DIR / "README.md").read_text() + (PROJECT_DIR / "ARCHITECTURE.md").read_text()
    folders = [
        str(path.relative_to(PROJECT_DIR)) + "/" for root in ("patient360", "simulators", "models", "macros")
        for path in [PROJECT_DIR / root, *(PROJECT_DIR / root).rglob("*")]
        if path.is_dir() and "__pycache__" not in path.parts
    ]
    missing = [folder for folder in folders if folder not in docs]
    assert missing == [], "name these folders in README.md or ARCHITECTURE.md"


@pytest.mark.parametrize("root", ["patient360", "simulators"])
def test_functions_are_short_enough_to_read_at_once(root: str) -> None:
    long = []
    for path in python_files(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []
