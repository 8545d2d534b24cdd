"""The compiled plan: a validated policy set, ready for every evaluator.

Immutable and built once: parsed conditions, params resolved per scope (HQ <- region
<- store), templates, and the bundle hash stamped on every action. The batch engine
(DuckDB) and any per-event evaluator read the same Plan, so they share one meaning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conditions.checker import CheckResult
from .contact.model import DEFAULT_RULES, ContactRules
from .diagnostics import DiagnosticError
from .metrics.declare import MetricSet
from .model import Action, PolicyFile
from .validation.expressions import ParsedPolicy
from .validation.metrics import metric_uses
from .validation.overrides import Override, collect, resolve
from .validation.params import as_typed
from .validation.pipeline import ValidationResult, bundle_hash, empty_set, validate_paths
from .validation.policies import window_unit


@dataclass(frozen=True)
class CompiledAction:
    index: int
    spec: Action
    nodes: Mapping[str, CheckResult]  # "when", "fallback.when", "source", "not_before", ...
    params: tuple[tuple[str, CheckResult], ...]
    hours: frozenset[str] = frozenset()  # window bounds in hours: "not_before", "due_by"

    def in_hours(self, bound: str) -> bool:
        return bound in self.hours


@dataclass(frozen=True)
class CompiledPolicy:
    spec: PolicyFile
    source: str
    conditions: tuple[tuple[str, CheckResult], ...]  # (text, node), all must hold
    trigger_nodes: Mapping[str, CheckResult]  # "threshold", "tiers.0.min", ...
    actions: tuple[CompiledAction, ...]
    defaults: Mapping[str, Any]
    overrides: tuple[Override, ...]

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def kind(self) -> str:
        return self.spec.trigger.kind

    def in_force(self, day: dt.date) -> bool:
        return self.spec.effective.covers(day)

    def params_at(self, region: str | None, store: str | None) -> tuple[dict[str, Any], bool]:
        """Params and enabled flag for a store (HQ <- region <- store)."""
        return resolve(self.defaults, self.overrides, self.id, region, store)


@dataclass(frozen=True)
class Plan:
    bundle: str
    policies: tuple[CompiledPolicy, ...]
    templates: Mapping[str, Mapping[str, str]]  # template id -> locale -> text
    contact: ContactRules = DEFAULT_RULES  # the policy set's contact rules, else the defaults
    # The customer metrics the policies read or hosts are shown, dependencies first:
    # what the batch's history and the per-event views compute.
    metrics: MetricSet = field(default_factory=MetricSet)

    def policy(self, policy_id: str) -> list[CompiledPolicy]:
        return [p for p in self.policies if p.id == policy_id]

    @property
    def ladder(self) -> CompiledPolicy | None:
        """The tier ladder that defines customer.tier (at most one is allowed)."""
        return next((p for p in self.policies if p.kind == "tier_ladder"), None)

    @property
    def ladder_metric(self) -> str | None:
        """The name of the metric the tier ladder climbs (without `customer.`)."""
        ladder = self.ladder
        metric = getattr(ladder.spec.trigger, "metric", None) if ladder else None
        return metric.removeprefix("customer.") if metric else None


def _typed_defaults(spec: PolicyFile) -> dict[str, Any]:
    return {name: as_typed(p.type, p.default) for name, p in spec.params.items()}


def _hour_bounds(spec: Action, policy: PolicyFile) -> frozenset[str]:
    data = {"params": {n: p.model_dump() for n, p in policy.params.items()}}
    window = {"not_before": spec.window.not_before, "due_by": spec.window.due_by}
    return frozenset(b for b, text in window.items() if window_unit(data, text) == "h")


def _action(index: int, spec: Action, parsed: ParsedPolicy, policy: PolicyFile
            ) -> CompiledAction:
    prefix = ("actions", index)
    nodes: dict[str, CheckResult] = {}
    params: list[tuple[str, CheckResult]] = []
    for path, node in parsed.checked.items():
        if path[:2] != prefix:
            continue
        rest = path[2:]
        if rest[0] == "params":
            params.append((str(rest[1]), node))
        else:
            nodes[".".join(str(p) for p in rest)] = node
    order = list(spec.params)
    params.sort(key=lambda item: order.index(item[0]))
    return CompiledAction(index, spec, nodes, tuple(params), _hour_bounds(spec, policy))


def _policy(spec: PolicyFile, source: str, parsed: ParsedPolicy,
            overrides: Iterable[Override]) -> CompiledPolicy:
    conditions = tuple(
        (text, parsed.checked[("conditions", i)]) for i, text in enumerate(spec.conditions)
    )
    trigger_nodes = {
        ".".join(str(p) for p in path[1:]): node
        for path, node in parsed.checked.items() if path[0] == "trigger"
    }
    actions = tuple(_action(i, a, parsed, spec) for i, a in enumerate(spec.actions))
    mine = tuple(o for o in overrides if o.policy_id == spec.id)
    return CompiledPolicy(spec, source, conditions, trigger_nodes, actions,
                          _typed_defaults(spec), mine)


def compile_result(result: ValidationResult) -> Plan:
    """A Plan from a validation result that has no errors."""
    if not result.ok:
        raise DiagnosticError(result.errors)
    ctx = result.context
    if not ctx.of_kind("policy"):  # files only, none a policy: nothing to run
        raise DiagnosticError([empty_set(ctx.given)])
    overrides = collect([f.doc for f in ctx.of_kind("override")])
    policies = tuple(
        _policy(ctx.models[f.source.display], f.source.display, ctx.parsed[f.source.display],
                overrides)
        for f in ctx.of_kind("policy")
    )
    templates: dict[str, dict[str, str]] = {}
    for f in ctx.of_kind("templates"):
        for template_id, template in ctx.models[f.source.display].templates.items():
            templates[template_id] = dict(template.text)
    contact = [ctx.contact[f.source.display] for f in ctx.of_kind("contact-rules")]
    used = ctx.metrics.published()
    for f in ctx.of_kind("policy"):
        used |= metric_uses(ctx.parsed[f.source.display].checked.values(), f.doc.data["trigger"])
    return Plan(bundle_hash(ctx.loaded), tuple(sorted(policies, key=lambda p: (p.id, p.version))),
                templates, contact[0] if contact else DEFAULT_RULES, ctx.metrics.needed(used))


def compile_paths(paths: Iterable[Path]) -> Plan:
    """Validate and compile; raises DiagnosticError listing every problem."""
    return compile_result(validate_paths(paths))
