"""Semantic checks of contact rules files, beyond the schema, with file:line:col."""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnostics import Diagnostic
from ..yamlsource import YamlDocument
from .model import WEEKDAYS


def check_contact_rules(docs: Sequence[YamlDocument]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for extra in docs[1:]:
        found.append(Diagnostic(
            "contact.duplicate-file", "a policy set has one contact rules file; this is a second",
            extra.location(("kind",)), f"merge it into {docs[0].file}"))
    for doc in docs:
        found.extend(_duplicate_caps(doc))
        found.extend(_always_closed(doc))
    return found


def _duplicate_caps(doc: YamlDocument) -> list[Diagnostic]:
    seen: dict[tuple[str, str], int] = {}
    found = []
    for index, cap in enumerate(doc.data.get("caps") or []):
        key = (cap["channel"], cap["window"])
        if key in seen:
            found.append(Diagnostic(
                "contact.duplicate-cap",
                f"a second cap for {key[0]} over {key[1]} (the first is caps[{seen[key]}])",
                doc.location(("caps", index)), "keep one: the smaller max is the one that binds"))
        seen.setdefault(key, index)
    return found


def _always_closed(doc: YamlDocument) -> list[Diagnostic]:
    """A store closed every weekday could never do a staff task: every one would expire."""
    weekly = (doc.data.get("calendar") or {}).get("closed_weekdays") or []
    by_scope: dict[tuple[str | None, str | None], set[str]] = {}
    for entry in weekly:
        by_scope.setdefault((entry.get("store"), entry.get("region")), set()).add(entry["weekday"])
    everywhere = by_scope.get((None, None), set())
    found = []
    for (store, region), days in by_scope.items():
        if days | everywhere >= set(WEEKDAYS):
            where = f"store {store}" if store else f"region {region}" if region else "every store"
            found.append(Diagnostic(
                "contact.always-closed", f"{where} is closed on every day of the week",
                doc.location(("calendar", "closed_weekdays")),
                "remove a weekday: staff tasks there could never be done"))
    return found
