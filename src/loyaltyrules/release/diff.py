"""The semantic diff of two policy sets, as HQ reviews a release.

Policies are compared by id and version on their validated content (never on text, so
comments and layout are not changes): added, removed, re-versioned, and per policy
the fields that changed (params with their defaults, bounds and overridability,
conditions, actions with their windows and templates, trigger, scope, effective
dates). A policy whose content changed while its version stayed the same is an error:
actions already recorded under that version would mean two things. Overrides are
compared per region and store, templates per id and locale, and the contact rules
field by field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..plan import CompiledPolicy, Plan

# Fields whose change does not change what a policy does: no version bump needed.
WORDING = ("title", "description")


@dataclass(frozen=True)
class Change:
    path: str  # "params.threshold.default", "conditions", "actions.0.window.due_by"
    old: Any
    new: Any


@dataclass
class PolicyDiff:
    policy: str
    old_version: int | None
    new_version: int | None
    changes: list[Change] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.old_version is None:
            return "added"
        if self.new_version is None:
            return "removed"
        if self.old_version != self.new_version:
            return "re-versioned"
        return "changed" if self.changes else "same"

    @property
    def unbumped(self) -> bool:
        """Changed in meaning under the same version."""
        return self.status == "changed" and any(
            c.path.split(".")[0] not in WORDING for c in self.changes)


@dataclass
class SetDiff:
    old_bundle: str
    new_bundle: str
    policies: list[PolicyDiff]
    overrides: list[Change]  # path: "region north / big-purchase-call / params.threshold"
    templates: list[Change]  # path: "template-id.locale"
    contact: list[Change]
    metrics: list[Change] = field(default_factory=list)  # path: "metric.field"

    @property
    def unbumped(self) -> list[PolicyDiff]:
        return [p for p in self.policies if p.unbumped]

    @property
    def empty(self) -> bool:
        return not (self.overrides or self.templates or self.contact or self.metrics
                    or any(p.status != "same" for p in self.policies))

    def to_json(self) -> dict[str, Any]:
        return {
            "old_bundle": self.old_bundle,
            "new_bundle": self.new_bundle,
            "policies": [
                {"policy": p.policy, "status": p.status, "old_version": p.old_version,
                 "new_version": p.new_version, "version_not_bumped": p.unbumped,
                 "changes": [_change_json(c) for c in p.changes]}
                for p in self.policies if p.status != "same"
            ],
            "overrides": [_change_json(c) for c in self.overrides],
            "templates": [_change_json(c) for c in self.templates],
            "contact_rules": [_change_json(c) for c in self.contact],
            "metrics": [_change_json(c) for c in self.metrics],
        }


def _change_json(change: Change) -> dict[str, Any]:
    return {"path": change.path, "old": change.old, "new": change.new}


def diff(old: Plan, new: Plan) -> SetDiff:
    return SetDiff(
        old.bundle, new.bundle, _policies(old, new), _overrides(old, new),
        changes(_templates(old), _templates(new)),
        changes(old.contact.model_dump(mode="json"), new.contact.model_dump(mode="json")),
        changes(metrics_content(old), metrics_content(new)),
    )


def metrics_content(plan: Plan) -> dict[str, Any]:
    """The declared metrics as written: aggregate, field, window, filter, expression."""
    found: dict[str, Any] = {"history_days": plan.metrics.history}
    for name, m in plan.metrics.metrics.items():
        found[name] = {"type": str(m.type), "aggregate": m.aggregate, "of": m.of,
                       "window": None if m.window is None else m.window.text,
                       "where": m.where_text or None, "expression": m.expression_text or None,
                       "publish": m.publish}
    return found


def _versions(plan: Plan) -> dict[str, dict[int, CompiledPolicy]]:
    """Each policy id's versions (a set may keep several, by effective date)."""
    found: dict[str, dict[int, CompiledPolicy]] = {}
    for policy in plan.policies:
        found.setdefault(policy.id, {})[policy.version] = policy
    return found


def _policies(old: Plan, new: Plan) -> list[PolicyDiff]:
    """Per id, its latest versions compared; and any older version kept in both sets
    whose content changed (an unbumped change too)."""
    before, after = _versions(old), _versions(new)
    found = []
    for policy_id in sorted(before.keys() | after.keys()):
        a, b = before.get(policy_id, {}), after.get(policy_id, {})
        last_a, last_b = (a[max(a)] if a else None), (b[max(b)] if b else None)
        found.append(PolicyDiff(
            policy_id, last_a.version if last_a else None, last_b.version if last_b else None,
            changes(_content(last_a), _content(last_b)) if last_a and last_b else []))
        latest = {max(a, default=0), max(b, default=0)}
        for version in sorted((a.keys() & b.keys()) - latest):
            found.append(PolicyDiff(policy_id, version, version,
                                    changes(_content(a[version]), _content(b[version]))))
    return found


def _content(policy: CompiledPolicy) -> dict[str, Any]:
    data = policy.spec.model_dump(mode="json", exclude={"version", "kind"})
    data["conditions"] = sorted(data.get("conditions") or [])  # a set: order is no change
    return data


def changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every leaf that differs between two JSON-like values, by dotted path; lists of
    plain values (conditions) are compared whole."""
    return list(_walk(old, new, path))


def _walk(old: Any, new: Any, path: str) -> Iterator[Change]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            yield from _walk(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return
    if (isinstance(old, list) and isinstance(new, list)
            and any(isinstance(v, Mapping) for v in [*old, *new])):
        for i in range(max(len(old), len(new))):
            yield from _walk(old[i] if i < len(old) else None,
                             new[i] if i < len(new) else None, f"{path}.{i}")
        return
    if old != new:
        yield Change(path, old, new)


def _overrides(old: Plan, new: Plan) -> list[Change]:
    return changes(_override_map(old), _override_map(new))


def _override_map(plan: Plan) -> dict[str, Any]:
    """"region north" -> policy -> {params, enabled}: what each target overrides."""
    found: dict[str, dict[str, Any]] = {}
    for policy in plan.policies:
        for o in policy.overrides:
            entry: dict[str, Any] = {"params": {k: _plain(v) for k, v in o.params.items()}}
            if o.enabled is not None:
                entry["enabled"] = o.enabled
            found.setdefault(f"{o.target_kind} {o.target}", {})[o.policy_id] = entry
    return found


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _templates(plan: Plan) -> dict[str, Any]:
    return {t: dict(texts) for t, texts in plan.templates.items()}
