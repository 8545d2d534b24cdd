"""One policy compiled to closures: gates, conditions, and the action records.

The Python twin of engine/compile.py + engine/actions.py: the same gates (effective
window, scope, enabled flag), every condition must hold (missing = false), and each
fired action laid out field by field exactly as the batch's Assembler lays out a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..conditions import compile_python
from ..conditions.evaluate import Evaluator
from ..engine.actions import ROW_IDS, format_value, invitation, json_value, valid_until
from ..engine.compile import reason_paths
from ..engine.windows import Zones, midnight, window
from ..ledger import action_id
from ..plan import CompiledAction, CompiledPolicy
from .facts import Params


def _plain(value: Any) -> Any:
    """Durations as whole days, as the SQL target holds them (BIGINT)."""
    return value.days if isinstance(value, dt.timedelta) else value


def _maybe(action: CompiledAction, name: str) -> Evaluator | None:
    node = action.nodes.get(name)
    return compile_python(node) if node is not None else None


class Trigger(NamedTuple):
    """Where a candidate row comes from, beyond its facts."""

    event: str  # reason.trigger: purchase, first_purchase, crossing, upgrade, schedule ...
    key: str  # the trigger key of the action id (before "#index")
    store: str | None  # scope store
    region: str | None  # scope region
    day: dt.date  # the business date (as_of)
    purchase_id: str | None = None
    at: dt.datetime | None = None  # the triggering moment (windows in hours); None: midnight


@dataclass(frozen=True)
class ActionPlan:
    action: CompiledAction
    when: Evaluator | None
    fallback_when: Evaluator | None
    source: Evaluator | None
    not_before: Evaluator | None
    due_by: Evaluator | None
    valid_until: Evaluator | None
    params: tuple[tuple[str, Evaluator], ...]
    invitation: tuple[Evaluator | None, Evaluator | None, Evaluator | None]

    @classmethod
    def of(cls, action: CompiledAction) -> ActionPlan:
        return cls(action, _maybe(action, "when"), _maybe(action, "fallback.when"),
                   _maybe(action, "assignee.source"), _maybe(action, "window.not_before"),
                   _maybe(action, "window.due_by"), _maybe(action, "window.valid_until"),
                   tuple((name, compile_python(c)) for name, c in action.params),
                   (_maybe(action, "invitation.event"), _maybe(action, "invitation.date"),
                    _maybe(action, "invitation.capacity")))

    def window(self, facts: Mapping[str, Any], params: Mapping[str, Any], trigger: Trigger,
               zones: Zones) -> dict[str, str]:
        hours = self.action.in_hours
        zone = zones.of(trigger.store) if self.action.hours else None
        at = trigger.at if trigger.at is not None else midnight(trigger.day)
        return window(trigger.day, at,
                      (_bound(self.not_before, facts, params), hours("not_before")),
                      (_bound(self.due_by, facts, params), hours("due_by")), zone)

    def invited(self, facts: Mapping[str, Any], params: Mapping[str, Any]
                ) -> dict[str, Any] | None:
        event, day, capacity = (ev(facts, params) if ev is not None else None
                                for ev in self.invitation)
        return invitation(event, day, capacity)

    def channel(self, facts: Mapping[str, Any], params: Mapping[str, Any]
                ) -> tuple[str, str | None]:
        spec = self.action.spec
        fallback = spec.fallback
        if fallback is not None and (self.fallback_when is None
                                     or self.fallback_when.holds(facts, params)):
            return fallback.type, fallback.template or spec.template
        return spec.type, spec.template

    def assignee(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.action.spec.assignee
        staff = self.source(facts, params) if self.source is not None else None
        if spec.source and staff is None and spec.fallback:
            return {"role": spec.fallback, "id": None}
        return {"role": spec.role, "id": staff}


def _days(ev: Evaluator | None, facts: Mapping[str, Any], params: Mapping[str, Any]
          ) -> dt.timedelta:
    return dt.timedelta(days=_bound(ev, facts, params) or 0)


def _bound(ev: Evaluator | None, facts: Mapping[str, Any], params: Mapping[str, Any]
           ) -> int | None:
    """A window bound's value: days (a duration) or hours (an int), as SQL holds it."""
    value = _plain(ev(facts, params)) if ev is not None else None
    return int(value) if value is not None else None


class PolicyPlan:
    """A compiled policy: `fire` gives the action records of one candidate row."""

    def __init__(self, policy: CompiledPolicy, bundle: str, zones: Zones | None = None) -> None:
        self.policy, self.bundle = policy, bundle
        self.zones = zones or Zones()
        self.params = Params(policy)
        self.reason_paths = reason_paths(policy)
        self.actions = tuple(ActionPlan.of(a) for a in policy.actions)
        scope = policy.spec.scope
        self.regions = frozenset(scope.regions)
        self.stores = frozenset(scope.stores)
        effective = policy.spec.effective
        self.start, self.end = effective.start, effective.end
        # each condition's closure, called directly (Evaluator.holds without the wrapper)
        self.tests = tuple(compile_python(c).fn for _t, c in policy.conditions)
        self._scopes: dict[tuple[str | None, str | None], Mapping[str, Any] | None] = {}
        # Set by the evaluator: the fold states (and whether the tier) the policy reads.
        self.needs: frozenset[int] = frozenset()
        self.reads_tier = False

    def _at(self, region: str | None, store: str | None) -> Mapping[str, Any] | None:
        if self.regions and region not in self.regions:
            return None
        if self.stores and store not in self.stores:
            return None
        params, enabled = self.params.at(region, store)
        return params if enabled else None

    def fire(self, facts: Mapping[str, Any], trigger: Trigger,
             actions: Sequence[ActionPlan] | None = None) -> list[dict[str, Any]]:
        # the gates: effective window, then scope and enabled flag (one lookup per scope)
        day = trigger.day
        if (self.start is not None and day < self.start) or (
                self.end is not None and day > self.end):
            return []
        scope = trigger.region, trigger.store
        try:
            params = self._scopes[scope]
        except KeyError:
            params = self._scopes[scope] = self._at(*scope)  # a benign race between threads
        if params is None:
            return []
        for test in self.tests:
            if test(facts, params) is not True:  # missing counts as false
                return []
        reason: dict[str, Any] = {"trigger": trigger.event}
        if trigger.purchase_id is not None:
            reason["purchase_id"] = trigger.purchase_id
        if trigger.event in ROW_IDS:
            reason[ROW_IDS[trigger.event]] = trigger.key
        reason["values"] = {p: format_value(_plain(self._value(p, facts, params)))
                            for p in self.reason_paths}
        return [record for a in (self.actions if actions is None else actions)
                if (record := self._record(a, facts, params, trigger, reason)) is not None]

    @staticmethod
    def _value(path: str, facts: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
        if path.startswith("params."):
            return params.get(path.removeprefix("params."))
        return facts.get(path)

    def _record(self, plan: ActionPlan, facts: Mapping[str, Any], params: Mapping[str, Any],
                trigger: Trigger, reason: dict[str, Any]) -> dict[str, Any] | None:
        spec = plan.action.spec
        if plan.when is not None and not plan.when.holds(facts, params):
            return None
        customer = facts["customer.customer_id"]
        recipient = facts["customer.referred_by"] if spec.recipient == "referrer" else customer
        if recipient is None:
            return None
        invited = plan.invited(facts, params) if spec.invitation is not None else None
        if spec.invitation is not None and invited is None:
            return None
        kind, template = plan.channel(facts, params)
        day: dt.date = facts["as_of"]
        fields = plan.window(facts, params, trigger, self.zones)
        return {
            "action_id": action_id(self.policy.id, customer, f"{trigger.key}#{plan.action.index}"),
            "policy": self.policy.id,
            "policy_version": self.policy.version,
            "bundle": self.bundle,
            "type": kind,
            "customer_id": recipient,
            "store_id": trigger.store,
            "region": trigger.region,
            "assignee": plan.assignee(facts, params),
            **fields,
            "valid_until": valid_until(spec.window.valid_until, fields["due_by"],
                                       day + _days(plan.valid_until, facts, params)),
            "as_of": day.isoformat(),
            "priority": spec.priority,
            "template": template or self.policy.id,
            "params": {name: json_value(_plain(ev(facts, params))) for name, ev in plan.params},
            **({"invitation": invited} if invited is not None else {}),
            "reason": reason,
        }
