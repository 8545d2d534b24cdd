"""Dates a schedule's condition pins, whatever the customer: `month(as_of) == 2 &&
day(as_of) == params.spring_day`.

A daily schedule is "every customer, every day". When a top-level condition reads no
fact but the date (and params), the days on which it can hold are known before any
customer is looked at: each day of the range is tried with every value each param
can take anywhere (its default and each override's). That is a superset of the days
on which it holds for some store, so only those days need candidates; the full
conditions still run on them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

from ..conditions import ast, fact_paths
from ..conditions.checker import CheckResult
from ..conditions.evaluate import compile_python
from ..plan import CompiledPolicy
from .scope import possible_values

# Above this many combinations of param values, every day is scanned instead.
MOST_ASSIGNMENTS = 4096


def pinned_dates(policy: CompiledPolicy, node: ast.Node, checked: CheckResult,
                 start: dt.date, end: dt.date) -> list[dt.date] | None:
    """The days from start to end on which `node` (a top-level conjunct of one of the
    policy's conditions, typed in `checked`) can hold; None when it reads a fact other
    than the date, or has too many param combinations to try."""
    if fact_paths(node) != {"as_of"} or node not in checked.types:
        return None
    names = sorted({n.path.removeprefix("params.") for n in ast.walk(node)
                    if isinstance(n, ast.Path) and n.path.startswith("params.")})
    choices = [possible_values(policy, name) for name in names]
    if math.prod(len(c) for c in choices) > MOST_ASSIGNMENTS:
        return None
    test = compile_python(CheckResult(checked.types[node], [], node, checked.types))
    assignments = [dict(zip(names, values, strict=True)) for values in itertools.product(*choices)]
    days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return [d for d in days if any(test.holds({"as_of": d}, a) for a in assignments)]
