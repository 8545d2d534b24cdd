"""Region and store overrides: checked against what HQ declared, then resolved.

Resolution for a store is deterministic: HQ's defaults, then the override file of
the store's region, then the store's own file. A region or store may change only
params HQ declared `overridable` (within their bounds), and may disable a policy
only where HQ wrote `disable: allowed`. Two override files for the same target are
an error, so there is never an order question between them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, did_you_mean
from ..yamlsource import YamlDocument
from .params import as_typed, check_value
from .policies import window_params, window_problem


@dataclass(frozen=True)
class Override:
    """One file's changes to one policy for one target."""

    target_kind: str  # "region" or "store"
    target: str
    policy_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool | None = None
    source: str = ""  # the override file, as the user named it
    where: Mapping[str, str] = field(default_factory=dict)  # param -> file:line:col (explain)


def check_overrides(override_docs: Sequence[YamlDocument],
                    policies: Mapping[str, Sequence[YamlDocument]]) -> Iterator[Diagnostic]:
    """Every illegal override, naming the override file and HQ's declaration."""
    targets: dict[tuple[str, str], YamlDocument] = {}
    for doc in override_docs:
        kind, name = target_of(doc)
        if (kind, name) in targets:
            yield Diagnostic("override.conflict",
                             f"a second override file for {kind} {name!r}",
                             doc.location(("target",)), "merge the two files into one",
                             related=(targets[(kind, name)].location(("target",)),))
            continue
        targets[(kind, name)] = doc
        for policy_id, change in (doc.data.get("policies") or {}).items():
            versions = policies.get(policy_id)
            if not versions:
                yield Diagnostic("override.unknown-policy", f"no policy named {policy_id!r}",
                                 doc.location(("policies", policy_id), key=True),
                                 did_you_mean(policy_id, policies))
                continue
            for hq in versions:
                yield from _check_change(doc, policy_id, change, hq)


def target_of(doc: YamlDocument) -> tuple[str, str]:
    """("region" or "store", its name) of an override file."""
    target = doc.data["target"]
    kind = "region" if "region" in target else "store"
    return kind, str(target[kind])


def _check_change(doc: YamlDocument, policy_id: str, change: dict[str, Any],
                  hq: YamlDocument) -> Iterator[Diagnostic]:
    base = ("policies", policy_id)
    declared = hq.data.get("params") or {}
    for name, value in (change.get("params") or {}).items():
        here = doc.location((*base, "params", name))
        spec = declared.get(name)
        if spec is None:
            yield Diagnostic("override.unknown-param",
                             f"policy {policy_id!r} declares no param {name!r}", here,
                             did_you_mean(name, declared), related=(hq.location(("params",)),))
            continue
        hq_here = hq.location(("params", name), key=True)
        if not spec.get("overridable", False):
            yield Diagnostic("override.locked-param",
                             f"HQ locked params.{name} of {policy_id!r}; it cannot be overridden",
                             here, "ask HQ to mark it `overridable: true`", related=(hq_here,))
            continue
        problem = check_value(spec, value)
        if problem is None and name in window_params(hq.data):
            hours = as_typed(spec["type"], value) or 0
            problem = window_problem(hours if spec["type"] == "hours" else hours * 24)
        if problem:
            wrong_type = as_typed(spec["type"], value) is None
            code = "override.type" if wrong_type else "override.out-of-bounds"
            yield Diagnostic(code, f"params.{name} of {policy_id!r}: {problem}", here,
                             related=(hq_here,))
    if change.get("enabled") is False and hq.data.get("disable", "forbidden") != "allowed":
        yield Diagnostic("override.disable-forbidden",
                         f"HQ does not allow {policy_id!r} to be disabled",
                         doc.location((*base, "enabled")),
                         "only policies with `disable: allowed` may be switched off",
                         related=(hq.location(("id",)),))


def collect(override_docs: Sequence[YamlDocument]) -> tuple[Override, ...]:
    """The overrides of a valid set, one per (target, policy)."""
    found = []
    for doc in override_docs:
        kind, name = target_of(doc)
        for policy_id, change in (doc.data.get("policies") or {}).items():
            params = dict(change.get("params") or {})
            where = {p: str(doc.location(("policies", policy_id, "params", p))) for p in params}
            found.append(Override(kind, name, policy_id, params, change.get("enabled"),
                                  doc.file, where))
    return tuple(found)


def provenance(overrides: Sequence[Override], policy_id: str, region: str | None,
               store: str | None) -> dict[str, str]:
    """Where each overridden param of a policy at a store gets its value: the region or
    store file that set it last (as `resolve` applies them); the others are HQ's."""
    found: dict[str, str] = {}
    for kind, name in (("region", region), ("store", store)):
        for override in overrides:
            if (override.policy_id, override.target_kind, override.target) == (
                    policy_id, kind, name):
                found.update({p: f"{kind} {name}: {w}" for p, w in override.where.items()})
    return found


def resolve(defaults: Mapping[str, Any], overrides: Sequence[Override], policy_id: str,
            region: str | None, store: str | None) -> tuple[dict[str, Any], bool]:
    """The params and enabled flag of a policy at a store: HQ <- region <- store."""
    params = dict(defaults)
    enabled = True
    for kind, name in (("region", region), ("store", store)):
        for override in overrides:
            target = (override.policy_id, override.target_kind, override.target)
            if target == (policy_id, kind, name):
                params.update(override.params)
                if override.enabled is not None:
                    enabled = override.enabled
    return params, enabled
