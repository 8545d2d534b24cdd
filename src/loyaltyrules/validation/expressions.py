"""Every expression in a policy file: parsed, type-checked against the fact catalog.

Expressions sit in conditions, action `when`s, assignee sources, action params,
window bounds, and the trigger (crossing threshold, tier minimums and discounts).
Each is checked for the type its place needs; errors point at the exact character
in the YAML file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..conditions import ast
from ..conditions.catalog import Env, env_for
from ..conditions.checker import CheckResult, check
from ..conditions.errors import ExprError
from ..conditions.types import BOOL, DATE, DECIMAL, DURATION, INT, STRING, Type, type_named
from ..conditions.unreachable import find_unreachable
from ..diagnostics import Diagnostic, Severity
from ..yamlsource import PathKey, YamlDocument
from .policies import window_unit

HOURS_LITERAL = re.compile(r"-?[0-9]+h")

# What each place needs: a type, or None for "any type".
Want = Type | None


@dataclass
class ParsedPolicy:
    """The checked expressions of one policy file, keyed by their path in the file."""

    checked: dict[PathKey, CheckResult] = field(default_factory=dict)


def expression_sites(data: dict[str, Any]) -> Iterator[tuple[PathKey, Want]]:
    """(path, wanted type) of every expression in a policy document."""
    for i in range(len(data.get("conditions") or [])):
        yield ("conditions", i), BOOL
    trigger = data["trigger"]
    if trigger["kind"] == "crossing":
        yield ("trigger", "threshold"), DECIMAL
    for j, tier in enumerate(trigger.get("tiers") or []):
        yield ("trigger", "tiers", j, "min"), INT
        if "discount_pct" in tier:
            yield ("trigger", "tiers", j, "discount_pct"), DECIMAL
    for i, action in enumerate(data.get("actions") or []):
        base: PathKey = ("actions", i)
        if action.get("when") is not None:
            yield (*base, "when"), BOOL
        if (action.get("fallback") or {}).get("when") is not None:
            yield (*base, "fallback", "when"), BOOL
        if action["assignee"].get("source") is not None:
            yield (*base, "assignee", "source"), STRING
        window = action.get("window") or {}
        for bound in ("not_before", "due_by"):
            if bound in window:  # hours are an int count of hours (`24h` reads as 24)
                hours = window_unit(data, window[bound]) == "h"
                yield (*base, "window", bound), INT if hours else DURATION
        if window.get("valid_until") not in (None, "never"):
            yield (*base, "window", "valid_until"), DURATION
        invitation = action.get("invitation") or {}
        for name, want in (("event", STRING), ("date", DATE), ("capacity", INT)):
            if name in invitation:
                yield (*base, "invitation", name), want
        for name in action.get("params") or {}:
            yield (*base, "params", name), None


def _fits(want: Want, got: Type | None) -> bool:
    if want is None or got is None or got.name in ("dyn", "null"):
        return True
    if want == DECIMAL:
        return got in (INT, DECIMAL)
    return got == want


def param_types(data: dict[str, Any]) -> dict[str, Type]:
    found = {}
    for name, spec in (data.get("params") or {}).items():
        kind = type_named(spec["type"])
        if kind is not None:
            found[name] = kind
    return found


def check_expressions(doc: YamlDocument, metrics: Mapping[str, Type] | None = None
                      ) -> tuple[ParsedPolicy, list[Diagnostic]]:
    """Every expression of a policy; `metrics` are the declared customer metrics."""
    env = env_for(doc.data["trigger"]["kind"], param_types(doc.data), metrics)
    parsed = ParsedPolicy()
    problems: list[Diagnostic] = []
    used: set[str] = set()
    for path, want in expression_sites(doc.data):
        text = _get(doc.data, path)
        if path[-2:-1] == ("window",) and HOURS_LITERAL.fullmatch(text):
            text = text[:-1]  # `24h` is the int 24 (hours); offsets stay those of the file
        result, errors = _check_one(text, env, want)
        problems.extend(_located(doc, path, e) for e in errors)
        node = result.node
        if node is not None:
            parsed.checked[path] = result
            used.update(p.path.removeprefix("params.") for p in ast.walk(node)
                        if isinstance(p, ast.Path) and p.path.startswith("params."))
            if want == BOOL and not errors:
                problems.extend(
                    Diagnostic("policy.unreachable", message, doc.scalar_location(path, start),
                               "this condition can never hold; check the comparison")
                    for start, _end, message in find_unreachable(node, result.types))
    problems.extend(_unused_params(doc, used))
    return parsed, problems


def _check_one(text: str, env: Env, want: Want) -> tuple[CheckResult, list[ExprError]]:
    result = check(text, env, want_bool=want == BOOL)
    errors = list(result.errors)
    if not errors and not _fits(want, result.type):
        node = result.node
        errors.append(ExprError("expr.type", f"expected {want}, this is {result.type}",
                                0, node.end if node else len(text)))
    return result, errors


def _located(doc: YamlDocument, path: PathKey, err: ExprError, code: str | None = None
             ) -> Diagnostic:
    return Diagnostic(code or err.code, err.message, doc.scalar_location(path, err.offset),
                      err.suggestion)


def _unused_params(doc: YamlDocument, used: set[str]) -> Iterator[Diagnostic]:
    for name in doc.data.get("params") or {}:
        if name not in used:
            yield Diagnostic("param.unused", f"params.{name} is declared but never used",
                             doc.location(("params", name), key=True),
                             "use it in an expression or remove it", Severity.WARNING)


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data
