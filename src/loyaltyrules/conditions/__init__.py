"""The condition language: a documented CEL subset (see docs/conditions.md).

parse -> check (against an Env of facts and params) -> compile_python / to_sql.
"""

from __future__ import annotations

from .ast import Node, Path, walk
from .catalog import (
    FUNCTIONS,
    KNOWN_VALUES,
    PARTITIONS,
    RANK_PREFIX,
    TIERS,
    TRIGGERS,
    Env,
    all_facts,
    env_for,
    facts_for,
)
from .checker import CheckResult, check, population_key
from .errors import ExprError
from .evaluate import Evaluator, compile_python, is_birthday
from .parser import parse
from .sql import sql_value, to_sql
from .types import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    INT,
    NULL,
    STRING,
    Type,
    list_of,
    type_named,
)
from .unreachable import CODE as UNREACHABLE_CODE
from .unreachable import find_unreachable


def fact_paths(node: Node) -> frozenset[str]:
    """The fact keys an expression reads (no params): paths such as `customer.tier`,
    and for each population function call its key (`rank_in_region:customer.<metric>`,
    `percentile_in:store:customer.<metric>`), not its argument."""
    keys: set[str] = set()
    inside: set[int] = set()
    for current in walk(node):
        key = population_key(current)
        if key is not None:
            keys.add(key)
            inside.add(id(current.args[0]))  # type: ignore[union-attr]
        elif (
            isinstance(current, Path)
            and id(current) not in inside
            and not current.path.startswith("params.")
        ):
            keys.add(current.path)
    return frozenset(keys)


def metric_paths(node: Node) -> frozenset[str]:
    """Every fact path an expression mentions, population function arguments included
    (which customer metrics it needs computed)."""
    return frozenset(n.path for n in walk(node)
                     if isinstance(n, Path) and not n.path.startswith("params."))


def param_names(node: Node) -> frozenset[str]:
    """The declared params an expression reads, without the `params.` prefix."""
    return frozenset(
        n.path[len("params.") :]
        for n in walk(node)
        if isinstance(n, Path) and n.path.startswith("params.")
    )


__all__ = [
    "BOOL",
    "DATE",
    "DECIMAL",
    "DURATION",
    "FUNCTIONS",
    "INT",
    "KNOWN_VALUES",
    "NULL",
    "PARTITIONS",
    "RANK_PREFIX",
    "STRING",
    "TIERS",
    "TRIGGERS",
    "UNREACHABLE_CODE",
    "CheckResult",
    "Env",
    "Evaluator",
    "ExprError",
    "Node",
    "Type",
    "all_facts",
    "check",
    "compile_python",
    "env_for",
    "fact_paths",
    "facts_for",
    "find_unreachable",
    "is_birthday",
    "list_of",
    "metric_paths",
    "param_names",
    "parse",
    "population_key",
    "sql_value",
    "to_sql",
    "type_named",
]
