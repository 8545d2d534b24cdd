"""Override targets the data does not know: `region: nort` would silently do nothing.

The policy set alone cannot tell a typo from a region that has no store yet, so this
is a warning, given where the data is known: by `validate --data` and in the summary
of every run and backtest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import duckdb

from ..diagnostics import Diagnostic, Severity, did_you_mean
from ..yamlsource import YamlDocument
from .overrides import Override, target_of

# A customer with no region and no store region is in region "default" (docs/engine.md).
DEFAULT_REGION = "default"
_STORES = """
SELECT store_id FROM stores UNION SELECT home_store FROM customers
UNION SELECT store_id FROM purchases
"""
_REGIONS = "SELECT region FROM stores UNION SELECT region FROM customers"


@dataclass(frozen=True)
class KnownTargets:
    """The stores and regions a data source names."""

    stores: frozenset[str]
    regions: frozenset[str]

    def knows(self, kind: str, name: str) -> bool:
        return name in (self.regions if kind == "region" else self.stores)

    def names(self, kind: str) -> frozenset[str]:
        return self.regions if kind == "region" else self.stores


def known_targets(con: duckdb.DuckDBPyConnection) -> KnownTargets:
    """The stores and regions of a loaded source's clean tables."""
    stores = {row[0] for row in con.execute(_STORES).fetchall() if row[0] is not None}
    regions = {row[0] for row in con.execute(_REGIONS).fetchall() if row[0] is not None}
    return KnownTargets(frozenset(map(str, stores)),
                        frozenset(map(str, regions)) | {DEFAULT_REGION})


def check_targets(override_docs: Sequence[YamlDocument], known: KnownTargets
                  ) -> Iterator[Diagnostic]:
    """A warning for each override file whose region or store the data does not know."""
    for doc in override_docs:
        kind, name = target_of(doc)
        if not known.knows(kind, name):
            yield Diagnostic("override.unknown-target",
                             f"no {kind} {name!r} in the data: this override changes nothing",
                             doc.location(("target", kind)),
                             did_you_mean(name, known.names(kind)) or f"check the {kind} name",
                             Severity.WARNING)


def unknown_targets(overrides: Iterable[Override], known: KnownTargets) -> list[str]:
    """One line per override file whose target the data does not know, for summaries."""
    lines = {
        f"{o.target_kind} {o.target!r} ({o.source})"
        for o in overrides if not known.knows(o.target_kind, o.target)
    }
    return sorted(lines)
