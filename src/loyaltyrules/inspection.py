"""What one store gets from a policy set: per policy, whether it is enabled, in
scope and in force, and each param's value with the file that set it (HQ, the
region's override, the store's). The same resolution as every evaluator's
(validation/overrides.py: HQ <- region <- store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .engine.explain import ParamTrace, param_traces
from .plan import CompiledPolicy, Plan
from .validation.targets import KnownTargets, unknown_targets


@dataclass(frozen=True)
class PolicyAtStore:
    policy: str
    version: int
    enabled: bool
    in_scope: bool
    in_force: bool  # on the date inspected
    params: list[ParamTrace]

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "version": self.version, "enabled": self.enabled,
                "in_scope": self.in_scope, "in_force": self.in_force,
                "params": [{"name": p.name, "value": p.value, "source": p.origin}
                           for p in self.params]}


def inspect(plan: Plan, store: str, region: str | None, day: dt.date) -> list[PolicyAtStore]:
    return [_at_store(p, store, region, day) for p in plan.policies]


def _at_store(policy: CompiledPolicy, store: str, region: str | None, day: dt.date
              ) -> PolicyAtStore:
    _values, enabled = policy.params_at(region, store)
    scope = policy.spec.scope
    in_scope = ((not scope.regions or region in scope.regions)
                and (not scope.stores or store in scope.stores))
    return PolicyAtStore(policy.id, policy.version, enabled, in_scope, policy.in_force(day),
                         param_traces(policy, store, region))


def unknown_override_targets(plan: Plan, known: KnownTargets) -> list[str]:
    """Overrides naming a store or region the stores table does not know."""
    return unknown_targets([o for p in plan.policies for o in p.overrides], known)
