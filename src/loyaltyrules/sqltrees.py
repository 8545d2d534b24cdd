"""DuckDB SQL text of ours as SQLGlot trees, each text parsed once per process.

A run builds its queries from a few fixed templates and the plan's snippets, the same
text many times over (a policy's every candidate set, every date range of a
catch-up); parsing is most of what building costs. Callers change the tree they get
(placeholders put in, tables replaced), so each gets its own copy of the parsed one.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp


def parse(text: str) -> exp.Expression:
    """A fresh tree of one DuckDB statement or expression."""
    return _parsed(text).copy()


@lru_cache(maxsize=4096)
def _parsed(text: str) -> exp.Expression:
    tree = sqlglot.parse_one(text, dialect="duckdb")
    assert isinstance(tree, exp.Expression)
    return tree
