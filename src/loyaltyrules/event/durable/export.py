"""`export --format durable-rules`: the compiled ruleset for a POS that already runs
durable_rules (Python, Node.js or Ruby), with what its facts must look like."""

from __future__ import annotations

from typing import Any

from ...plan import Plan
from .compiler import PolicyRules, compile_plan
from .values import SCALE

NORMALIZATION = [
    "Post one fact per candidate row (a receipt, a first purchase, a crossing reached, a "
    "tier change) in a session of its own, then delete the session: durable_rules keeps at "
    "most 1,024 live sessions per ruleset and corrupts memory past that.",
    "Each fact carries `policy` (\"id@version\"), `variant` (the number whose scopes "
    "include the receipt's region and store; `null` in a scope means any other) and the "
    "properties listed under `facts`, named by the fact path with '.' replaced by '_'.",
    f"Decimals and integers are integers in thousandths (x {SCALE}); dates are whole days "
    "since 1970-01-01; durations whole days; booleans 1 or 0; strings stay strings.",
    "Leave a missing value out of the fact (never null): a test on an absent property "
    "does not hold, as a condition over a missing value is false.",
    "Give each fact an `id` unique in its session; a fact the engine reports as already "
    "observed was lost to a hash collision and must not be taken as 'no rule fired'.",
    "A fired rule named \"id@version/vN\" means the policy's conditions hold for that row; "
    "the actions (ids, windows, params, contact rules) are then laid out as "
    "docs/durable-rules.md describes, or by loyaltyrules itself.",
]
TYPES = {"decimal": "integer thousandths", "int": "integer thousandths",
         "date": "days since 1970-01-01", "duration": "days", "bool": "1 or 0",
         "string": "string"}


def document(plan: Plan) -> dict[str, Any]:
    """The ruleset and its input contract (DiagnosticError: outside the subset)."""
    compiled = compile_plan(plan)
    return {
        "format": "durable-rules",
        "durable_rules": "2.0.28",
        "bundle": plan.bundle,
        "normalization": NORMALIZATION,
        "policies": {rules.name: _policy(rules) for rules in compiled.policies.values()},
        "ruleset": compiled.definition,
    }


def _policy(rules: PolicyRules) -> dict[str, Any]:
    return {
        "facts": [{"path": path, "property": name, "as": TYPES[kind.name]}
                  for path, name, kind in rules.fields],
        "variants": [{"variant": v, "scopes": [{"region": r, "store": s} for r, s in scopes]}
                     for v, scopes in sorted(rules.scopes.items())],
    }
