"""Who is who, for the outputs people read: customers' names, contact details and
locales, the names of stores and associates (DESIGN sections 3 and 8).

A directory is built from the data source's clean tables (`customers`, `stores`,
`staff`). Customers' names, phones, emails and addresses are personal data: they are
selected only when the store enables enrichment (`[sheets] enrich` in
loyaltyrules.toml), so without it they never enter the process that writes sheets.
Nothing read here is logged or put in an error; lookups of unknown ids give empty
cards, not exceptions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

__all__ = ["CustomerCard", "Directory", "StaffCard", "StoreCard", "directory_from"]

_CONTACT = ("name", "phone", "email", "address")  # personal data: only with enrichment


@dataclass(frozen=True)
class CustomerCard:
    customer_id: str
    locale: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class StoreCard:
    store_id: str
    name: str | None = None
    locale: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class StaffCard:
    staff_id: str
    name: str | None = None
    store_id: str | None = None
    role: str | None = None


@dataclass
class Directory:
    """Stores and staff in memory (small tables); customers looked up by id, cached."""

    stores: Mapping[str, StoreCard] = field(default_factory=dict)
    staff: Mapping[str, StaffCard] = field(default_factory=dict)
    enrich: bool = False  # customers' names and contact details are read
    connection: duckdb.DuckDBPyConnection | None = None
    _cards: dict[str, CustomerCard] = field(default_factory=dict, repr=False)
    _buyers: dict[str, str | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def store(self, store_id: str) -> StoreCard:
        return self.stores.get(store_id) or StoreCard(store_id)

    def member(self, staff_id: str | None) -> StaffCard | None:
        return None if staff_id is None else self.staff.get(staff_id)

    def holder(self, store_id: str, role: str) -> StaffCard | None:
        """The one person holding `role` at the store (None when none or several)."""
        found = [s for s in self.staff.values() if s.store_id == store_id and s.role == role]
        return found[0] if len(found) == 1 else None

    def assignee(self, assignee: Mapping[str, Any], store_id: str) -> StaffCard | None:
        """Who an action's assignee is: the person named, else the role's one holder."""
        if assignee.get("id") is not None:
            return self.member(str(assignee["id"]))
        return self.holder(store_id, str(assignee.get("role")))

    def customers(self, ids: Iterable[str]) -> dict[str, CustomerCard]:
        """A card per id (an id not in the data gets a card with the id alone)."""
        wanted = sorted(set(ids))
        missing = [i for i in wanted if i not in self._cards]
        if missing:
            found = self._fetch(missing)
            self._cards.update({i: found.get(i) or CustomerCard(i) for i in missing})
        return {i: self._cards[i] for i in wanted}

    def buyer(self, purchase_id: str) -> str | None:
        """The customer of a receipt (for the other side of a referral)."""
        if purchase_id not in self._buyers:
            rows = self._query("SELECT customer_id FROM purchases WHERE purchase_id = ? "
                               "LIMIT 1", [purchase_id])
            self._buyers[purchase_id] = rows[0][0] if rows else None
        return self._buyers[purchase_id]

    def _fetch(self, ids: list[str]) -> dict[str, CustomerCard]:
        columns = ["customer_id", "locale", *(_CONTACT if self.enrich else ())]
        rows = self._query(f"SELECT {', '.join(columns)} FROM customers "
                           "WHERE customer_id IN (SELECT unnest(?))", [ids])
        return {row[0]: CustomerCard(**dict(zip(columns, row, strict=True))) for row in rows}

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if self.connection is None:
            return []
        with self._lock:  # a DuckDB connection serves one thread at a time
            return self.connection.execute(sql, params).fetchall()


def directory_from(con: duckdb.DuckDBPyConnection, enrich: bool) -> Directory:
    """The directory of a loaded source (sources.open_source), reading customers from
    `con` as they are asked for; `con` must stay open while the directory is used."""
    stores = {row[0]: StoreCard(*row) for row in con.execute(
        "SELECT store_id, name, locale, timezone FROM stores").fetchall()}
    staff = {row[0]: StaffCard(*row) for row in con.execute(
        "SELECT staff_id, name, store_id, role FROM staff").fetchall()}
    return Directory(stores, staff, enrich, con)
