"""The condition language: a documented CEL subset (see docs/conditions.md).

parse -> check (against an Env of facts and params) -> compile_python / to_sql.
"""

from __future__ import annotations

from .ast import Call, Node, Path, walk
from .catalog import (
    ALL_FACTS,
    FUNCTIONS,
    KNOWN_VALUES,
    RANK_PREFIX,
    RUNNING_METRICS,
    TIERS,
    TRIGGERS,
    Env,
    env_for,
    facts_for,
)
from .checker import CheckResult, check
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
    and `rank_in_region:customer.<metric>` for each rank_in_region() call."""
    keys: set[str] = set()
    rank_args: set[int] = set()
    for current in walk(node):
        if isinstance(current, Call) and current.name == "rank_in_region" and current.args:
            arg = current.args[0]
            if isinstance(arg, Path):
                keys.add(RANK_PREFIX + arg.path)
                rank_args.add(id(arg))
        elif (
            isinstance(current, Path)
            and id(current) not in rank_args
            and not current.path.startswith("params.")
        ):
            keys.add(current.path)
    return frozenset(keys)


def param_names(node: Node) -> frozenset[str]:
    """The declared params an expression reads, without the `params.` prefix."""
    return frozenset(
        n.path[len("params.") :]
        for n in walk(node)
        if isinstance(n, Path) and n.path.startswith("params.")
    )


__all__ = [
    "ALL_FACTS",
    "BOOL",
    "DATE",
    "DECIMAL",
    "DURATION",
    "FUNCTIONS",
    "INT",
    "KNOWN_VALUES",
    "NULL",
    "RANK_PREFIX",
    "RUNNING_METRICS",
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
    "check",
    "compile_python",
    "env_for",
    "fact_paths",
    "facts_for",
    "find_unreachable",
    "is_birthday",
    "list_of",
    "param_names",
    "parse",
    "sql_value",
    "to_sql",
    "type_named",
]
