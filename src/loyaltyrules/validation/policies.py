"""Semantic checks of policy files that need no expression parsing.

Each check takes a schema-valid policy document and yields diagnostics; the
cross-file checks (duplicate ids, overlapping versions) see the whole set.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..diagnostics import Diagnostic
from ..yamlsource import YamlDocument
from .params import as_typed, check_value, describe, range_problem

FAR_PAST = dt.date.min
FAR_FUTURE = dt.date.max
# Ten years: an action's dates stay real dates for any business date before 9990.
MAX_WINDOW_DAYS = 3650
_INT = re.compile(r"-?[0-9]{1,18}")


def effective_window(data: dict[str, Any]) -> tuple[dt.date, dt.date]:
    """A policy version's effective window, both ends inclusive; open ends are unbounded."""
    window = data.get("effective") or {}
    start = window.get("from")
    end = window.get("until")
    return (
        dt.date.fromisoformat(start) if start else FAR_PAST,
        dt.date.fromisoformat(end) if end else FAR_FUTURE,
    )


def check_params(doc: YamlDocument) -> Iterator[Diagnostic]:
    for name, spec in (doc.data.get("params") or {}).items():
        base = ("params", name)
        for bound in ("min", "max"):
            if bound in spec:
                yield from _check_bound(doc, name, spec, bound)
        low = as_typed(spec["type"], spec.get("min"))
        high = as_typed(spec["type"], spec.get("max"))
        if low is not None and high is not None and low > high:
            yield Diagnostic("param.bounds-inverted",
                             f"params.{name}: min {spec['min']} is above max {spec['max']}",
                             doc.location((*base, "max")), "swap min and max")
            continue  # no default can fit inverted bounds: saying so again is noise
        problem = check_value(spec, spec["default"])
        if problem:
            typed = as_typed(spec["type"], spec["default"])
            hint = ("change the default or the bounds" if typed is None
                    or not range_problem(spec["type"], typed) else "use a value the type holds")
            yield Diagnostic("param.default", f"params.{name}.default: {problem}",
                             doc.location((*base, "default")), hint)


def _check_bound(doc: YamlDocument, name: str, spec: dict[str, Any], bound: str
                 ) -> Iterator[Diagnostic]:
    typed = as_typed(spec["type"], spec[bound])
    problem = (f"{spec[bound]!r} is not {describe(spec['type'])}" if typed is None
               else range_problem(spec["type"], typed))
    if problem:
        yield Diagnostic("param.type", f"params.{name}.{bound}: {problem}",
                         doc.location(("params", name, bound)))


def check_effective(doc: YamlDocument) -> Iterator[Diagnostic]:
    start, end = effective_window(doc.data)
    if end < start:
        yield Diagnostic("policy.effective-inverted",
                         f"effective.until {end} is before effective.from {start}",
                         doc.location(("effective", "until")),
                         "until must be on or after from (both ends are inclusive)")


def window_days(doc: YamlDocument, value: str) -> int | None:
    """A window bound in days: a literal like `7d`, or a param's default."""
    if value.startswith("params."):
        spec = (doc.data.get("params") or {}).get(value.removeprefix("params."))
        if not spec or check_value(spec, spec.get("default")):
            return None  # no such param, or a bad default (reported as such)
        days = as_typed("duration", spec.get("default"))
    else:
        days = as_typed("duration", value)
    return days if isinstance(days, int) else None


def window_params(data: dict[str, Any]) -> set[str]:
    """The params used as window bounds (their overrides move due dates)."""
    bounds = [bound for action in data.get("actions") or []
              for bound in (action.get("window") or {}).values()]
    return {b.removeprefix("params.") for b in bounds if str(b).startswith("params.")}


def window_problem(days: int) -> str | None:
    """Why a window bound is too far, or None: its dates must stay real dates."""
    if abs(days) <= MAX_WINDOW_DAYS:
        return None
    return f"{days}d is too far: a window bound is at most {MAX_WINDOW_DAYS}d either way"


def check_windows(doc: YamlDocument) -> Iterator[Diagnostic]:
    for i, action in enumerate(doc.data.get("actions") or []):
        window = action.get("window") or {}
        start = window_days(doc, window.get("not_before", "0d"))
        due = window_days(doc, window.get("due_by", "0d"))
        valid = window.get("valid_until")
        until = window_days(doc, valid) if valid not in (None, "never") else None
        path = ("actions", i, "window", "due_by")
        for bound, days in (("not_before", start), ("due_by", due), ("valid_until", until)):
            problem = window_problem(days) if days is not None else None
            if problem:
                yield Diagnostic("policy.window-too-long", f"actions[{i}].window.{bound}: "
                                 f"{problem}", doc.location(("actions", i, "window", bound)),
                                 "use a shorter window")
        if due is not None and due < 0:
            yield Diagnostic("policy.window-negative",
                             f"actions[{i}].window.due_by is {due} days: due before the "
                             "trigger date", doc.location(path), "use 0d or more")
        elif start is not None and due is not None and due < start:  # not twice for one bound
            yield Diagnostic("policy.window-inverted",
                             f"actions[{i}].window: due_by ({due}d) is before not_before "
                             f"({start}d)", doc.location(path),
                             "due_by must be on or after not_before")
        if until is not None and due is not None and until < due:
            yield Diagnostic("policy.window-valid-until-early",
                             f"actions[{i}].window: valid_until ({until}d) is before due_by "
                             f"({due}d): the action would go stale before it is due",
                             doc.location(("actions", i, "window", "valid_until")),
                             "make valid_until at least due_by, or leave it out (due_by)")


def check_action_events(doc: YamlDocument) -> Iterator[Diagnostic]:
    """`on: upgrade|downgrade` belongs to tier ladders, and tier ladders need it."""
    ladder = doc.data["trigger"]["kind"] == "tier_ladder"
    for i, action in enumerate(doc.data.get("actions") or []):
        on = action.get("on")  # nullable: `on: null` is the same as leaving it out
        if ladder and on is None:
            yield Diagnostic("policy.action-on",
                             f"actions[{i}] of a tier_ladder policy needs `on`",
                             doc.location(("actions", i)), "add `on: upgrade` or `on: downgrade`")
        if not ladder and on is not None:
            yield Diagnostic("policy.action-on",
                             f"actions[{i}].on only applies to tier_ladder triggers",
                             doc.location(("actions", i, "on"), key=True), "remove `on`")


def check_schedule(doc: YamlDocument) -> Iterator[Diagnostic]:
    trigger = doc.data["trigger"]
    if trigger["kind"] != "schedule" or trigger.get("every") != "year":
        return
    month, day = (int(p) for p in trigger["on"].split("-"))
    try:
        dt.date(2024, month, day)  # a leap year: 02-29 exists
    except ValueError:
        yield Diagnostic("trigger.never", f"trigger.on {trigger['on']!r} is not a calendar day",
                         doc.location(("trigger", "on")), "use MM-DD of a real date")


def check_ladder(doc: YamlDocument) -> Iterator[Diagnostic]:
    trigger = doc.data["trigger"]
    if trigger["kind"] != "tier_ladder":
        return
    seen: set[str] = set()
    previous: int | None = None
    for i, tier in enumerate(trigger["tiers"]):
        if tier["name"] in seen:
            yield Diagnostic("trigger.duplicate-tier", f"tier {tier['name']!r} appears twice",
                             doc.location(("trigger", "tiers", i, "name")))
        seen.add(tier["name"])
        minimum = _constant_int(doc, tier["min"])
        if minimum is not None and previous is not None and minimum <= previous:
            yield Diagnostic("trigger.ladder-order",
                             f"tier {tier['name']!r} needs more than the tier below it "
                             f"({minimum} <= {previous})",
                             doc.location(("trigger", "tiers", i, "min")),
                             "list tiers from lowest to highest")
        previous = minimum if minimum is not None else previous


def _constant_int(doc: YamlDocument, text: str) -> int | None:
    if text.startswith("params."):
        spec = (doc.data.get("params") or {}).get(text.removeprefix("params."))
        value = spec.get("default") if spec else None
    else:
        value = int(text) if _INT.fullmatch(text) else None  # ASCII digits: "²".isdigit()
    return value if isinstance(value, int) and not isinstance(value, bool) else None


PER_POLICY: Sequence[Callable[[YamlDocument], Iterator[Diagnostic]]] = (
    check_params,
    check_effective,
    check_windows,
    check_action_events,
    check_schedule,
    check_ladder,
)


def check_versions(docs: Sequence[YamlDocument]) -> Iterator[Diagnostic]:
    """Duplicate (id, version) pairs and overlapping windows of one policy's versions."""
    by_id: dict[str, list[YamlDocument]] = {}
    for doc in docs:
        by_id.setdefault(doc.data["id"], []).append(doc)
    for policy_id, versions in by_id.items():
        for later_index, later in enumerate(versions):
            for earlier in versions[:later_index]:
                yield from _compare_versions(policy_id, earlier, later)


def _compare_versions(policy_id: str, a: YamlDocument, b: YamlDocument) -> Iterator[Diagnostic]:
    if a.data["version"] == b.data["version"]:
        yield Diagnostic("policy.duplicate-id",
                         f"policy {policy_id!r} version {b.data['version']} is defined twice",
                         b.location(("id",)), "give the new file a higher version",
                         related=(a.location(("id",)),))
        return
    a_start, a_end = effective_window(a.data)
    b_start, b_end = effective_window(b.data)
    if a_start <= b_end and b_start <= a_end:
        yield Diagnostic("policy.effective-overlap",
                         f"versions {a.data['version']} and {b.data['version']} of "
                         f"{policy_id!r} are both in force from {max(a_start, b_start)}",
                         b.location(("effective",)),
                         "end the older version the day before the newer one starts",
                         related=(a.location(("effective",)),))
