"""``repeat`` on Redshift: a recursive CTE walking the SUPER items down the repeat paths.

Redshift's recursive CTE is one seed SELECT and one recursive SELECT
(https://docs.aws.amazon.com/redshift/latest/dg/r_WITH_clause.html), so several repeat paths (``item``,
``answer.item``) walk as one state machine: every CTE row keeps ``next_arrays``, a SUPER array holding one
array per way down from it (``array(node.item, node.answer)``), and the recursive SELECT unnests both levels
(``p.next_arrays as way at way_index, way as node at node_index``); ``way_index`` says which path, and so
the child's state: a repeat item (state 0) or a step inside a longer path (``answer`` on the way to
``answer.item``). ``node_key`` orders the items depth first, as the spec's %rowIndex counts them. The walk
stops at depth 100, the nesting limit of nested data in Redshift
(https://docs.aws.amazon.com/redshift/latest/dg/nested-data-restrictions.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from patient360.sql_on_fhir import fhirpath as fp
from patient360.sql_on_fhir import schema
from patient360.sql_on_fhir.redshift_expressions import Compiler, RsExpr, name_sql
from patient360.sql_on_fhir.viewdef import Path

MAX_DEPTH = 100


@dataclass(frozen=True)
class Way:
    """From a node in ``state``: the member to unnest and the state of what it reaches."""

    member: str
    reaches: int


def members(path: Path, compiler: Compiler) -> tuple[str, ...]:
    names: list[str] = []
    node: fp.Node | None = path.node
    while isinstance(node, fp.Member):
        names.insert(0, node.name)
        node = node.target
    if node is not None or not names:
        raise compiler.fail(path.where, "a repeat path must be a chain of element names (item, answer.item)")
    return tuple(names)


def item_type(focus_type: str, chains: list[tuple[str, ...]]) -> str | None:
    """The type the repeat paths reach from the focus (None: none of them exists there)."""
    for chain in chains:
        current: str | None = focus_type
        for name in chain:
            element = schema.element(current, name) if current else None
            current = element.type_name if element is not None and not element.primitive else None
        if current:
            return current
    return None


def state_machine(chains: list[tuple[str, ...]]) -> dict[int, list[Way]]:
    """State 0: a repeat item; every further state: ``i`` steps into a path of several members."""
    states: dict[int, list[Way]] = {0: []}
    for chain in chains:
        state = 0
        for step, member in enumerate(chain):
            last = step == len(chain) - 1
            reaches = 0 if last else len(states)
            if not last:
                states[reaches] = []
            states[state].append(Way(member, reaches))
            state = reaches
    return states


def next_arrays(node: str, state: str | int, states: dict[int, list[Way]], node_type: str | None = None) -> str:
    """The arrays down from ``node``. With ``node_type`` (the seed: a table row, where an unknown column is an
    error rather than a lax NULL) a way the type lacks holds NULL, keeping the ways' positions."""
    def way(member: str) -> str:
        if node_type is not None and schema.element(node_type, member) is None:
            return "cast(null as super)"
        return f"{node}.{name_sql(member.lower())}"

    def ways(ways_of: list[Way]) -> str:
        return f"array({', '.join(way(w.member) for w in ways_of)})"

    if isinstance(state, int):
        return ways(states[state])
    cases = " ".join(f"when {s} then {ways(w)}" for s, w in states.items())
    return f"case {state} {cases} end"


def child_state(states: dict[int, list[Way]]) -> str:
    cases = " ".join(f"when p.state = {s} and way_index = {i} then {w.reaches}"
                     for s, ways in states.items() for i, w in enumerate(ways))
    return f"case {cases} end"


def repeat_ctes(name: str, table: str, focus: RsExpr, chains: list[tuple[str, ...]]) -> tuple[str, str]:
    """The recursive walk and its items numbered depth first: (CTE SQL, the items CTE's name)."""
    states = state_machine(chains)
    keys = [f"{key} as k{i}" for i, key in enumerate(focus.keys)]
    carried = [f"p.k{i}" for i in range(len(focus.keys))]
    columns = ", ".join([*(f"k{i}" for i in range(len(focus.keys))), "node_key", "depth", "state", "node",
                         "next_arrays"])
    seed_from = ", ".join([f"{table} as r", *focus.scope])
    state = child_state(states)
    walk = (
        f"{name} ({columns}) as (\n"
        f"    select {', '.join(keys)}, cast('' as varchar(4096)), 0, 0, cast(null as super), "
        f"{next_arrays(focus.sql, 0, states, focus.type_name)}\n"
        f"    from {seed_from}\n"
        f"    union all\n"
        f"    select {', '.join(carried)}, "
        f"p.node_key || lpad(cast(way_index as varchar(4)), 3, '0') || lpad(cast(node_index as varchar(10)), 7, '0'), "
        f"p.depth + 1, {state}, node, {next_arrays('node', state, states)}\n"
        f"    from {name} as p, p.next_arrays as way at way_index, way as node at node_index\n"
        f"    where p.depth < {MAX_DEPTH}\n)"
    )
    partition = ", ".join(f"k{i}" for i in range(len(focus.keys)))
    items = (
        f"{name}_items as (\n"
        f"    select {partition}, node, row_number() over (partition by {partition} order by node_key) - 1 as "
        f"item_index\n    from {name}\n    where depth > 0 and state = 0\n)"
    )
    return f"{walk},\n\n{items}", f"{name}_items"
