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


def window_unit(data: dict[str, Any], value: str) -> str:
    """"h" for a bound in hours (`24h`, or an `hours` param), else "d" (days)."""
    if value.startswith("params."):
        spec = (data.get("params") or {}).get(value.removeprefix("params.")) or {}
        return "h" if spec.get("type") == "hours" else "d"
    return "h" if value.endswith("h") else "d"


def window_hours(doc: YamlDocument, value: str) -> int | None:
    """A window bound in hours: a literal like `7d` or `24h`, or a param's default."""
    unit = window_unit(doc.data, value)
    kind = "hours" if unit == "h" else "duration"
    if value.startswith("params."):
        spec = (doc.data.get("params") or {}).get(value.removeprefix("params."))
        if not spec or check_value(spec, spec.get("default")):
            return None  # no such param, or a bad default (reported as such)
        found = as_typed(kind, spec.get("default"))
    else:
        found = as_typed(kind, value)
    if not isinstance(found, int):
        return None
    return found if unit == "h" else found * 24


def window_params(data: dict[str, Any]) -> set[str]:
    """The params used as window bounds (their overrides move due dates)."""
    bounds = [bound for action in data.get("actions") or []
              for bound in (action.get("window") or {}).values()]
    return {b.removeprefix("params.") for b in bounds if str(b).startswith("params.")}


def window_problem(hours: int) -> str | None:
    """Why a window bound is too far, or None: its dates must stay real dates."""
    if abs(hours) <= MAX_WINDOW_DAYS * 24:
        return None
    shown = f"{hours}h" if hours % 24 else f"{hours // 24}d"
    return f"{shown} is too far: a window bound is at most {MAX_WINDOW_DAYS}d either way"


def _shown(hours: int, text: str) -> str:
    return f"{hours}h" if text.endswith("h") or hours % 24 else f"{hours // 24}d"


def check_windows(doc: YamlDocument) -> Iterator[Diagnostic]:
    for i, action in enumerate(doc.data.get("actions") or []):
        window = action.get("window") or {}
        texts = window.get("not_before", "0d"), window.get("due_by", "0d")
        start, due = (window_hours(doc, t) for t in texts)
        valid = window.get("valid_until")
        until = window_hours(doc, valid) if valid not in (None, "never") else None
        path = ("actions", i, "window", "due_by")
        for bound, hours in (("not_before", start), ("due_by", due), ("valid_until", until)):
            problem = window_problem(hours) if hours is not None else None
            if problem:
                yield Diagnostic("policy.window-too-long", f"actions[{i}].window.{bound}: "
                                 f"{problem}", doc.location(("actions", i, "window", bound)),
                                 "use a shorter window")
        if due is not None and due < 0:
            yield Diagnostic("policy.window-negative",
                             f"actions[{i}].window.due_by is {_days_or_hours(due, texts[1])}: "
                             "due before the trigger", doc.location(path), "use 0d or more")
        elif start is not None and due is not None and due < start:  # not twice for one bound
            yield Diagnostic("policy.window-inverted",
                             f"actions[{i}].window: due_by ({_shown(due, texts[1])}) is before "
                             f"not_before ({_shown(start, texts[0])})", doc.location(path),
                             "due_by must be on or after not_before")
        if until is not None and due is not None and until < due:
            yield Diagnostic("policy.window-valid-until-early",
                             f"actions[{i}].window: valid_until ({_shown(until, str(valid))}) "
                             f"is before due_by ({_shown(due, texts[1])}): the action would go "
                             "stale before it is due",
                             doc.location(("actions", i, "window", "valid_until")),
                             "make valid_until at least due_by, or leave it out (due_by)")


def _days_or_hours(hours: int, text: str) -> str:
    return f"{hours} hours" if text.endswith("h") or hours % 24 else f"{hours // 24} days"


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
    if trigger["kind"] != "schedule" or not isinstance(trigger.get("on"), str) \
            or trigger.get("every") != "year":
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
