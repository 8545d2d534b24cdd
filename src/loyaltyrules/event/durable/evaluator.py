"""The per-event evaluator with durable_rules deciding which policies' rules fire.

The native evaluator (event/evaluator.py) finds the candidate rows of an event (the
receipt, a first purchase, a crossing reached, a tier that rose) and gates them
(effective dates, scope, enabled flag); here each policy's condition test is a
*decider* instead of the compiled closures. An event runs the native flow twice:
the first pass only collects the candidate rows the deciders are asked about; those
rows go to durable_rules in one session, as facts (compiler.PolicyRules.fact); the
second pass asks the deciders again, in the same order, and they answer what the
engine decided. The project then lays out each fired action exactly as the native
backend does (ids, windows, params, reasons), so both give the same records.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...engine.windows import Zones
from ...plan import Plan
from ..errors import EventError
from ..evaluator import EventEvaluator
from ..occasions import Calendar, HostEvent
from ..policy import PolicyPlan
from ..view import CustomerView, Receipt, Views
from .compiler import Compiled, PolicyRules, compile_plan
from .session import Ruleset
from .values import Unrepresentable

T = TypeVar("T")
Asked = tuple[PolicyRules, Mapping[str, Any], Mapping[str, Any]]


class Round:
    """One pass over an event: collecting the rows asked about, or answering them."""

    def __init__(self, answers: list[bool] | None = None) -> None:
        self.asked: list[Asked] = []
        self.answers = answers
        self.next = 0

    def ask(self, rules: PolicyRules, facts: Mapping[str, Any], params: Mapping[str, Any]
            ) -> bool:
        if self.answers is None:
            self.asked.append((rules, facts, params))
            return False
        answer = self.answers[self.next]  # the same flow asks in the same order
        self.next += 1
        return answer


_ROUND: contextvars.ContextVar[Round] = contextvars.ContextVar("durable_round")


def _decider(rules: PolicyRules) -> Callable[[Mapping[str, Any], Mapping[str, Any]], bool]:
    def decide(facts: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
        return _ROUND.get().ask(rules, facts, params)
    return decide


class DurableEvaluator(EventEvaluator):
    """EventEvaluator whose policies' conditions are decided by durable_rules."""

    def __init__(self, plan: Plan, stores: Mapping[str, str | None] | None = None,
                 zones: Zones | None = None, calendar: Calendar | None = None,
                 views: Views | None = None) -> None:
        super().__init__(plan, stores, zones, calendar, views)
        self.compiled: Compiled = compile_plan(plan)  # refuses what is outside the subset
        self.ruleset = Ruleset(self.compiled.definition)
        for policy in self._plans():
            rules = self.compiled.policies[(policy.policy.id, policy.policy.version)]
            policy.tests = (_decider(rules),)

    def _plans(self) -> list[PolicyPlan]:
        return [*self.purchases, *self.firsts, *(c.plan for c in self.crossings),
                *self.ladders, *self.schedules, *(p for ps in self.hosts.values() for p in ps)]

    def purchase(self, view: CustomerView, receipt: Receipt,
                 referrer: CustomerView | None = None
                 ) -> tuple[list[dict[str, Any]], CustomerView]:
        return self._decided(super().purchase, view, receipt, referrer)

    def day(self, view: CustomerView, day: dt.date) -> list[dict[str, Any]]:
        return self._decided(super().day, view, day)

    def host(self, view: CustomerView, event: HostEvent) -> list[dict[str, Any]]:
        return self._decided(super().host, view, event)

    def _decided(self, flow: Callable[..., T], *args: Any) -> T:
        first, collected = self._pass(Round(), flow, args)
        asked = collected.asked
        if not asked:
            return first  # nothing was asked: no answer can change the result
        try:
            facts = [rules.fact(f, p) for rules, f, p in asked]
        except Unrepresentable as err:
            raise EventError("durable-limit", f"the durable_rules backend cannot take this "
                             f"event exactly: {err}") from None
        fired = self.ruleset.fired(facts)
        answers = [any(name.startswith(f"{rules.name}/") for name in names)
                   for (rules, _f, _p), names in zip(asked, fired, strict=True)]
        result, again = self._pass(Round(answers), flow, args)
        if again.next != len(answers):  # the flow must not depend on the answers
            raise RuntimeError("the durable_rules backend's two passes disagreed")
        return result

    @staticmethod
    def _pass(round_: Round, flow: Callable[..., T], args: tuple[Any, ...]) -> tuple[T, Round]:
        token = _ROUND.set(round_)
        try:
            return flow(*args), round_
        finally:
            _ROUND.reset(token)
