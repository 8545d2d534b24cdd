"""The Plan compiled to a durable_rules ruleset, for the subset it runs safely.

One rule per policy and *variant* (a distinct set of the param values its conditions
read, over HQ <- region <- store): params become constants, so a rule only ever
compares a fact with a constant. A candidate row (a receipt, a first purchase, a
crossing, a tier change: the project finds them) is one fact carrying the policy's
name, the variant of its scope and the facts its conditions read (values.py); the
rule that fires says the policy's conditions hold. Anything outside the subset is
refused when the policies are loaded, naming the construct and the reason.

Conditions keep their meaning over missing values (Kleene logic): a test becomes
"holds" or "fails" in negation normal form, each comparison on a present property,
so an absent one satisfies neither.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from ...conditions.ast import (
    Binary,
    BoolLit,
    Call,
    DecimalLit,
    DurationLit,
    IntLit,
    ListLit,
    Node,
    NullLit,
    Path,
    StringLit,
    Unary,
    walk,
)
from ...conditions.checker import CheckResult
from ...conditions.types import Type
from ...conditions.values import parse_date
from ...diagnostics import Diagnostic, DiagnosticError, Location
from ...engine.triggers import reads_rank
from ...plan import CompiledPolicy, Plan
from ..facts import Params
from .values import SUPPORTED, Unrepresentable, fnv1a, normal

Test = dict[str, Any]
PER_RECEIPT = ("purchase", "first_purchase", "crossing", "tier_ladder")
RESERVED = ("policy", "variant", "sid", "id", "session")
ORDER = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
NEVER: Test = {"$nex": {"policy": 1}}  # every fact has a policy: this never holds
CODE = "durable-refused"
# Every session starts with this fact, which this rule answers: durable_rules 2.0.28
# frees an invalid pointer (and the process dies) when it deletes a session in which
# no rule fired.
OPEN_RULE, OPEN_FACT = "loyaltyrules/open", {"session": "open"}


class Refused(Exception):
    """A construct outside the subset: what it is and why durable_rules cannot run it."""

    def __init__(self, construct: str, reason: str, text: str = "") -> None:
        super().__init__(f"{construct}: {reason}")
        self.construct, self.reason, self.text = construct, reason, text


def field_name(path: str) -> str:
    """The property a fact path travels as (no dots: the engine reads them as nesting)."""
    return path.replace(".", "_")


@dataclass(frozen=True)
class PolicyRules:
    """One policy's rules: which variant a scope's params are, and its facts' fields."""

    name: str  # "policy@version", the fact's `policy`
    params: tuple[str, ...]  # the params its conditions read
    variants: Mapping[tuple[Any, ...], int]  # their normalized values -> variant number
    fields: tuple[tuple[str, str, Type], ...]  # (path, property, type) its conditions read
    scopes: Mapping[int, tuple[tuple[str | None, str | None], ...]]  # variant -> (region, store)

    def variant(self, params: Mapping[str, Any]) -> int:
        key = tuple(_param_value(params, n) for n in self.params)
        return self.variants[key]  # every scope's params were enumerated at compile time

    def fact(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """The candidate row as the engine gets it; Unrepresentable names the fact."""
        fact: dict[str, Any] = {"policy": self.name, "variant": self.variant(params)}
        for path, name, kind in self.fields:
            try:
                value = normal(facts.get(path), kind)
            except Unrepresentable as err:  # the path, never the value (personal data)
                raise Unrepresentable(f"{path}: {err}") from None
            if value is not None:
                fact[name] = value
        return fact


@dataclass(frozen=True)
class Compiled:
    definition: dict[str, Any]  # the ruleset JSON the engine (and `export`) takes
    policies: Mapping[tuple[str, int], PolicyRules]  # (id, version) -> its rules


def compile_plan(plan: Plan) -> Compiled:
    """The ruleset, or DiagnosticError listing every refused construct."""
    definition: dict[str, Any] = {}
    policies: dict[tuple[str, int], PolicyRules] = {}
    refused: list[Diagnostic] = []
    for policy in plan.policies:
        try:
            rules, tests = _policy(policy)
        except Refused as why:
            refused.append(_diagnostic(policy, why))
            continue
        policies[(policy.id, policy.version)] = rules
        for variant, test in tests.items():
            definition[f"{rules.name}/v{variant}"] = {"all": [{"m": test}]}
    definition[OPEN_RULE] = {"all": [{"m": OPEN_FACT}]}
    refused += _collisions(policies.values())
    if refused:
        raise DiagnosticError(refused)
    return Compiled(definition, policies)


def _diagnostic(policy: CompiledPolicy, why: Refused) -> Diagnostic:
    return Diagnostic(CODE, f"policy {policy.id} cannot run on the durable_rules backend: "
                      f"{why.construct}: {why.reason}", _where(policy, why.text),
                      "use the native backend for this policy set, or leave this policy out "
                      "(docs/durable-rules.md lists the subset)")


def _where(policy: CompiledPolicy, text: str) -> Location:
    """The line and column of the refused condition (else the trigger) in its file."""
    try:
        lines = FilePath(policy.source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return Location(policy.source)
    for needle in (text, "trigger:"):
        for number, line in enumerate(lines, 1):
            if needle and needle in line:
                return Location(policy.source, number, line.index(needle) + 1)
    return Location(policy.source)


def _policy(policy: CompiledPolicy) -> tuple[PolicyRules, dict[int, Test]]:
    _check_trigger(policy)
    nodes = [(text, checked) for text, checked in policy.conditions]
    names = tuple(sorted({n.path.removeprefix("params.") for _t, c in nodes if c.node
                          for n in walk(c.node)
                          if isinstance(n, Path) and n.path.startswith("params.")}))
    fields: dict[str, tuple[str, str, Type]] = {}
    variants: dict[tuple[Any, ...], int] = {}
    tests: dict[int, Test] = {}
    scopes: dict[int, list[tuple[str | None, str | None]]] = {}
    for scope, params in _scopes(policy):
        key = tuple(_param_value(params, n) for n in names)
        if key in variants:
            scopes[variants[key]].append(scope)
            continue
        variants[key] = len(variants)
        scopes[variants[key]] = [scope]
        conds = [Conditions(c, params, fields, text).holds(c.node)  # type: ignore[arg-type]
                 for text, c in nodes]
        tests[variants[key]] = {"$and": [{"policy": _name(policy)}, {"variant": variants[key]},
                                         *conds]}
    return PolicyRules(_name(policy), names, variants, tuple(fields.values()),
                       {v: tuple(found) for v, found in scopes.items()}), tests


def _name(policy: CompiledPolicy) -> str:
    return f"{policy.id}@{policy.version}"


def _check_trigger(policy: CompiledPolicy) -> None:
    kind = policy.kind
    if kind not in PER_RECEIPT:
        why = ("it fires on calendar days, not on a receipt; durable_rules keeps time with "
               "timers that its host polls from background threads" if kind == "schedule"
               else "only receipt-triggered policies are in the subset")
        raise Refused(f"trigger kind {kind!r}", why)
    if reads_rank(policy):
        raise Refused("rank_in_region(), percentile_in() or abc_class()",
                      "a rank or class needs the whole population, which a per-event rules "
                      "engine never sees (it is left to the nightly run)")
    for action in policy.actions:
        if action.spec.invitation is not None and action.spec.invitation.capacity is not None:
            raise Refused("an invitation with a capacity", "who gets the seats needs the "
                          "whole population (it is left to the nightly run)")


def _scopes(policy: CompiledPolicy
            ) -> Iterable[tuple[tuple[str | None, str | None], Mapping[str, Any]]]:
    """The params of every scope: HQ, each overridden region and store, and each pair
    (any other region or store resolves as HQ's or its overridden partner's)."""
    regions = [None, *sorted({o.target for o in policy.overrides if o.target_kind == "region"})]
    stores = [None, *sorted({o.target for o in policy.overrides if o.target_kind == "store"})]
    typed = Params(policy)  # typed exactly as the evaluator's gates type them
    for region in regions:
        for store in stores:
            yield (region, store), typed.at(region, store)[0]


def _param_value(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    return tuple(value) if isinstance(value, list) else value


class Conditions:
    """One condition of one variant, as durable_rules tests (holds / fails)."""

    def __init__(self, checked: CheckResult, params: Mapping[str, Any],
                 fields: dict[str, tuple[str, str, Type]], text: str) -> None:
        self.types, self.params, self.text = checked.types, params, text
        self.fields = fields

    def holds(self, node: Node) -> Test:
        return self._test(node, True)

    def _test(self, node: Node, want: bool) -> Test:
        if isinstance(node, Unary) and node.op == "!":
            return self._test(node.operand, not want)
        if isinstance(node, Binary) and node.op in ("&&", "||"):
            both = (node.op == "&&") == want  # De Morgan: failing a && is failing either
            parts = [self._test(node.left, want), self._test(node.right, want)]
            return {"$and" if both else "$or": parts}
        if isinstance(node, Binary) and node.op in ORDER:
            return self._comparison(node, want)
        if isinstance(node, Binary) and node.op == "in":
            return self._membership(node, want)
        if isinstance(node, Call) and node.name == "has" and isinstance(node.args[0], Path):
            return {"$ex" if want else "$nex": {self._field(node.args[0]): 1}}
        if isinstance(node, Path) and not node.path.startswith("params."):
            return {self._field(node): 1 if want else 0}  # a boolean fact
        raise self._refuse(node)

    def _comparison(self, node: Binary, want: bool) -> Test:
        left, right, op = node.left, node.right, node.op
        for side in (left, right):
            if not (self._is_fact(side) or _is_constant(side)):
                raise self._refuse(side)
        if not self._is_fact(left):
            left, right, op = right, left, FLIPPED[op]
        if not self._is_fact(left) or self._is_fact(right):
            raise self._refuse(node, "a comparison between two facts is a join in "
                               "durable_rules, and its non-equality joins crash the engine"
                               if self._is_fact(right) else None)
        assert isinstance(left, Path)
        kind = self.types[left]
        if op not in ("==", "!=") and kind.name in ("string", "bool"):
            raise Refused(f"{self.text!r}", "ordering on text or booleans: the engine "
                          "compares loosely ('99' >= 100 holds)", self.text)
        if not want:
            op = NEGATED[op]
        value = self._constant(right, kind)
        if value is None:
            return NEVER  # a comparison with a missing param never holds, nor fails
        name = self._field(left)
        return {name: value} if op == "==" else {ORDER[op]: {name: value}}

    def _membership(self, node: Binary, want: bool) -> Test:
        if not self._is_fact(node.left):
            raise self._refuse(node)
        assert isinstance(node.left, Path)
        kind = self.types[node.left]
        items = self._items(node.right, kind)
        name = self._field(node.left)
        if want:
            return {"$or": [{name: i} for i in items]} if items else NEVER
        return {"$and": [{"$neq": {name: i}} for i in items]} if items else {"$ex": {name: 1}}

    def _items(self, node: Node, kind: Type) -> list[Any]:
        if isinstance(node, ListLit):
            try:
                raw = [_literal(i) for i in node.items]
            except LookupError:
                raise self._refuse(node) from None
        elif isinstance(node, Path) and node.path.startswith("params."):
            raw = list(self.params.get(node.path.removeprefix("params.")) or [])
        else:
            raise self._refuse(node)
        if any(r is None for r in raw):
            raise self._refuse(node, "a missing value inside a list")
        return [self._normal(r, kind) for r in raw]

    def _constant(self, node: Node, kind: Type) -> Any:
        if isinstance(node, Path) and node.path.startswith("params."):
            value = self.params.get(node.path.removeprefix("params."))
            return None if value is None else self._normal(value, kind)
        try:
            value = _literal(node)
        except LookupError:
            raise self._refuse(node) from None
        if value is None:
            raise self._refuse(node, "a comparison with null (write has(...) instead)")
        return self._normal(value, kind)

    def _normal(self, value: Any, kind: Type) -> Any:
        try:
            return normal(value, kind)
        except (Unrepresentable, TypeError, AttributeError) as err:
            raise Refused(f"{self.text!r}", f"the constant {value} cannot be given to the "
                          f"engine exactly ({err})", self.text) from None

    def _is_fact(self, node: Node) -> bool:
        return isinstance(node, Path) and not node.path.startswith("params.")

    def _field(self, node: Path) -> str:
        kind = self.types.get(node)
        if kind not in SUPPORTED:
            raise Refused(node.path, f"a fact of type {kind}, which the engine cannot hold",
                          self.text)
        name = field_name(node.path)
        assert kind is not None
        self.fields[node.path] = (node.path, name, kind)
        return name

    def _refuse(self, node: Node, why: str | None = None) -> Refused:
        part = self.text[node.start:node.end] if hasattr(node, "start") else self.text
        return Refused(f"{part!r} in {self.text!r}", why or _why(node), self.text)


def _why(node: Node) -> str:
    if isinstance(node, Call):
        if node.name in ("is_birthday", "days_between", "year", "month", "day", "weekday"):
            return f"{node.name}() is a date function; durable_rules has none"
        return f"{node.name}() has no counterpart in durable_rules' tests"
    if isinstance(node, Binary) and node.op in ("+", "-", "*", "/", "%"):
        return "arithmetic in a test: the engine computes in C doubles, not exact decimals"
    return "only comparisons of a fact with a constant or param, 'in', has(), !, && and || " \
           "are in the subset"


_LITERALS: Mapping[type, Callable[[Any], Any]] = {
    IntLit: lambda n: n.value, DecimalLit: lambda n: n.value, StringLit: lambda n: n.value,
    BoolLit: lambda n: n.value, DurationLit: lambda n: dt.timedelta(days=n.days),
}


def _is_constant(node: Node) -> bool:
    if isinstance(node, Path):
        return node.path.startswith("params.")
    try:
        _literal(node)
    except LookupError:
        return False
    return True


def _literal(node: Node) -> Any:
    """A literal's value (a negated number, a date("...")); None for null."""
    if isinstance(node, Unary) and node.op == "-" and isinstance(node.operand,
                                                                 IntLit | DecimalLit):
        return -node.operand.value
    if isinstance(node, Call) and node.name == "date" and isinstance(node.args[0], StringLit):
        return parse_date(node.args[0].value)
    if isinstance(node, NullLit):
        return None
    read = _LITERALS.get(type(node))
    if read is None:
        raise LookupError(node)
    return read(node)


def _collisions(policies: Iterable[PolicyRules]) -> list[Diagnostic]:
    """Two names with one FNV-1a hash would be one property to the engine: refuse them."""
    seen: dict[int, str] = {}
    names = set(RESERVED)
    for rules in policies:
        names.add(rules.name)
        names.update(name for _p, name, _k in rules.fields)
    found = []
    for name in sorted(names):
        other = seen.setdefault(fnv1a(name), name)
        if other != name:
            found.append(Diagnostic(CODE, f"{other!r} and {name!r} have the same hash in "
                                    "durable_rules and would be taken for one another",
                                    Location("policies")))
    return found

