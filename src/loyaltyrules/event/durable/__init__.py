"""durable_rules as an optional per-event backend (docs/durable-rules.md).

compiler.py turns the Plan into a ruleset (refusing what it cannot run safely),
values.py normalizes facts for the C engine, session.py drives the engine one short
session per event, evaluator.py lets it decide which policies fire.
"""

from __future__ import annotations

from .compiler import Compiled, compile_plan
from .session import DurableError, DurableUnavailable

__all__ = ["Compiled", "DurableError", "DurableUnavailable", "compile_plan"]
