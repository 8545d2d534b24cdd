"""The semantic diff as a terminal table, as Markdown for a pull request comment, and
as JSON (SetDiff.to_json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .diff import Change, PolicyDiff, SetDiff


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _version(p: PolicyDiff) -> str:
    if p.status == "added":
        return f"v{p.new_version}"
    if p.status == "removed":
        return f"v{p.old_version}"
    if p.old_version != p.new_version:
        return f"v{p.old_version} -> v{p.new_version}"
    return f"v{p.new_version}" + (" (version not bumped)" if p.unbumped else "")


def _sections(d: SetDiff) -> Iterator[tuple[str, list[Change]]]:
    yield "overrides", d.overrides
    yield "templates", d.templates
    yield "contact rules", d.contact
    yield "metrics", d.metrics


def as_text(d: SetDiff) -> str:
    lines = [f"bundle {d.old_bundle} -> {d.new_bundle}"]
    if d.empty:
        return "\n".join([*lines, "no changes"])
    for p in d.policies:
        if p.status == "same":
            continue
        lines.append(f"{p.status:13} {p.policy} {_version(p)}")
        lines += [f"    {c.path}: {_value(c.old)} -> {_value(c.new)}" for c in p.changes]
    for title, items in _sections(d):
        if items:
            lines.append(f"{title}:")
            lines += [f"    {c.path}: {_value(c.old)} -> {_value(c.new)}" for c in items]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "`" + _value(value).replace("|", "\\|").replace("`", "'") + "`"


def as_markdown(d: SetDiff) -> str:
    lines = [f"### Policy changes: bundle `{d.old_bundle}` -> `{d.new_bundle}`", ""]
    if d.empty:
        return "\n".join([*lines, "No changes."])
    shown = [p for p in d.policies if p.status != "same"]
    if shown:
        lines += ["| policy | status | version |", "|---|---|---|"]
        lines += [f"| {p.policy} | {p.status}{' :warning:' if p.unbumped else ''} | "
                  f"{_version(p)} |" for p in shown]
        lines.append("")
    for p in shown:
        if p.changes:
            lines += [f"#### {p.policy}", "", "| field | old | new |", "|---|---|---|"]
            lines += [f"| {c.path} | {_cell(c.old)} | {_cell(c.new)} |" for c in p.changes]
            lines.append("")
    for title, items in _sections(d):
        if items:
            lines += [f"#### {title}", "", "| what | old | new |", "|---|---|---|"]
            lines += [f"| {c.path} | {_cell(c.old)} | {_cell(c.new)} |" for c in items]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
