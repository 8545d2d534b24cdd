"""Calendar schedules against the data: a kind the `calendar` table never names is a
typo (an error), a name it does not hold yet may be a year not entered (a warning).

Only where the data is known (`validate --data`); a run with no calendar table at all
warns in its summary instead (engine/occasions.py: calendar_warnings).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import duckdb

from ..diagnostics import Diagnostic, Severity, did_you_mean
from ..yamlsource import YamlDocument

_ROWS = "SELECT DISTINCT lower(kind), lower(name) FROM calendar"


def calendar_names(con: duckdb.DuckDBPyConnection) -> tuple[frozenset[str], frozenset[str]]:
    """The kinds and names of the calendar table, lower-cased (they match so)."""
    rows = con.execute(_ROWS).fetchall()
    return (frozenset(k for k, _n in rows if k is not None),
            frozenset(n for _k, n in rows if n is not None))


def _listed(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def check_calendar(policy_docs: Sequence[YamlDocument], kinds: frozenset[str],
                   names: frozenset[str]) -> Iterator[Diagnostic]:
    for doc in policy_docs:
        match = doc.data.get("trigger", {}).get("calendar")
        if not isinstance(match, dict):
            continue
        for field, known, severity in (("kind", kinds, Severity.ERROR),
                                       ("name", names, Severity.WARNING)):
            value = match.get(field)
            for i, item in enumerate(_listed(value)):
                if item.lower() in known:
                    continue
                path = ("trigger", "calendar", field, *((i,) if isinstance(value, list) else ()))
                yield Diagnostic(f"calendar.unknown-{field}",
                                 f"the calendar table has no day of {field} {item!r}",
                                 doc.location(path),
                                 did_you_mean(item.lower(), known) or
                                 f"{field}s in the calendar: {', '.join(sorted(known)) or 'none'}",
                                 severity)
