"""The Python API for embedding the engine in a POS (docs/embedding.md).

    engine = Engine.load(state="state.db")      # validate + compile once; thread-safe
    actions = engine.on_purchase({...receipt...})

`Engine` keeps customer views, applies the contact rules as the nightly run does and
records every decision in the state file (the ledger), so the nightly run finds them
there and keeps them. Its answer lists the actions to hand out now, with `.decisions`
saying what happened to each action the event fired. `StatelessEngine` (and
`evaluate_purchase`) take the customer view from the caller, store nothing and give
the evaluator's candidates, before any contact rule.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contact import Decision, decide_at_checkout, decision_json
from .engine.windows import Zones
from .event.backends import evaluator_for
from .event.errors import EventError
from .event.evaluator import EventEvaluator
from .event.occasions import Calendar, parse_host_event
from .event.receipts import parse_customer, parse_receipt
from .event.store import Tx, ViewStore
from .event.view import CustomerView, Receipt, Views
from .ledger import migrate
from .lifecycle import overdue_at
from .plan import Plan, compile_paths
from .resources import default_policies_dir
from .state import Connection, StateStore, dialect_of

__all__ = ["Answer", "Engine", "EventError", "StatelessEngine", "evaluate_purchase"]

Action = dict[str, Any]
PolicyPaths = str | Path | Iterable[str | Path] | None


class Answer(list[Action]):
    """The actions to hand out now (emitted), in the order decided.

    `decisions` has one entry per action the event fired, in the same order:
    `{"status": "emitted" | "deferred" | "merged" | "expired", "reason",
    "deferred_to", "merged_into", "action"}` (docs/embedding.md)."""

    def __init__(self, decisions: Iterable[Decision] = ()) -> None:
        self.decisions: list[dict[str, Any]] = [decision_json(d) for d in decisions]
        super().__init__(d["action"] for d in self.decisions if d["status"] == "emitted")


def _plan(policies: PolicyPaths) -> Plan:
    if policies is None:
        return compile_paths([default_policies_dir()])
    if isinstance(policies, str | Path):
        return compile_paths([Path(policies)])
    return compile_paths([Path(p) for p in policies])


def calendar_of(rows: Iterable[Mapping[str, Any]]) -> Calendar:
    """A Calendar from rows with the calendar table's columns."""
    return Calendar((r.get("date"), r.get("name"), r.get("kind"), r.get("region"))
                    for r in rows)


@dataclass(frozen=True)
class StatelessEngine:
    """The evaluator alone: the caller keeps each customer's view (CustomerView)."""

    plan: Plan
    evaluator: EventEvaluator
    consent_default: bool = True

    @classmethod
    def load(cls, policies: PolicyPaths = None, stores: Mapping[str, str | None] | None = None,
             *, consent_default: bool = True, timezones: Mapping[str, str | None] | None = None,
             timezone: str | None = None, calendar: Iterable[Mapping[str, Any]] = (),
             backend: str = "native") -> StatelessEngine:
        """`timezones` maps store_id to an IANA zone (`timezone` for the others);
        `calendar` is the calendar table's rows (date, name, kind, region);
        `backend` "durable_rules" lets durable_rules decide (docs/durable-rules.md)."""
        plan = _plan(policies)
        return cls(plan, evaluator_for(backend, plan, stores, Zones(timezones, timezone),
                                       calendar_of(calendar)), consent_default)

    @property
    def bundle(self) -> str:
        return self.plan.bundle

    def new_view(self, customer: Mapping[str, Any]) -> CustomerView:
        """The view of a customer with no receipts yet, from their record."""
        record = parse_customer(customer, self.evaluator.stores, self.consent_default)
        return CustomerView(record.customer_id, record)

    def on_purchase(self, receipt: Mapping[str, Any], view: CustomerView | None,
                    referrer: CustomerView | None = None) -> tuple[list[Action], CustomerView]:
        """Candidate actions of one receipt and the customer's view after it.

        `view` is the customer's view before the receipt (None: no record, no receipts);
        `referrer` the referrer's view, read only for a first purchase. Deduplication
        by purchase_id is the caller's concern here.
        """
        parsed = parse_receipt(receipt)
        if parsed.customer_id is None:
            raise EventError("missing-field", "customer_id is required here", "customer_id")
        if view is not None and view.customer_id != parsed.customer_id:
            raise EventError("wrong-view", "the view is another customer's", "customer_id")
        before = view if view is not None else CustomerView(parsed.customer_id)
        return self.evaluator.purchase(before, parsed, referrer)

    def on_day(self, view: CustomerView, day: dt.date) -> list[Action]:
        """Schedules for the customer on `day`, from the view as it is now."""
        return self.evaluator.day(view, day)

    def on_complaint(self, complaint: Mapping[str, Any], view: CustomerView) -> list[Action]:
        """Candidate actions of one complaint (the `complaints` table's columns)."""
        return self._host("complaint", complaint, view)

    def on_event(self, event: Mapping[str, Any], view: CustomerView) -> list[Action]:
        """Candidate actions of one host event (the `events` table's columns)."""
        return self._host("event", event, view)

    def _host(self, trigger: str, event: Mapping[str, Any], view: CustomerView) -> list[Action]:
        parsed = parse_host_event(trigger, event)
        if view.customer_id != parsed.customer_id:
            raise EventError("wrong-view", "the view is another customer's", "customer_id")
        return self.evaluator.host(view, parsed)

    def metrics(self, view: CustomerView, day: dt.date | None = None) -> dict[str, Any]:
        """The customer's declared metrics (those the policies read or that are
        published) at the end of `day`, by name; by default right after the view's last
        receipt. A metric the view lacks (the metrics changed since the last nightly
        rebuild) is left out."""
        return self.evaluator.metric_values(view, day)


def evaluate_purchase(plan_or_engine: Plan | StatelessEngine | Engine,
                      receipt: Mapping[str, Any], view: CustomerView | None,
                      referrer: CustomerView | None = None
                      ) -> tuple[list[Action], CustomerView]:
    """One receipt against a caller-supplied view: (actions, new view). Stores nothing.

    Passing a Plan compiles an evaluator on each call; keep a StatelessEngine instead
    when calling often.
    """
    if isinstance(plan_or_engine, Plan):
        engine = StatelessEngine(plan_or_engine, EventEvaluator(plan_or_engine))
    elif isinstance(plan_or_engine, Engine):
        engine = plan_or_engine.stateless
    else:
        engine = plan_or_engine
    return engine.on_purchase(receipt, view, referrer)


@dataclass(frozen=True)
class Engine:
    """Compiled once, immutable, safe to share between threads.

    Each event is one transaction on the state (a SQLite file or a PostgreSQL
    database): the purchase is marked seen, the view advanced, the new actions
    inserted into the ledger, all or nothing, serialised with a nightly run of the
    receipt's store and with other events of the same customer.
    """

    stateless: StatelessEngine
    store: ViewStore = field(repr=False)

    @classmethod
    def load(cls, policies: PolicyPaths = None, state: StateStore | str | Path | None = None,
             stores: Mapping[str, str | None] | None = None, *,
             consent_default: bool = True, sync: str = "full",
             timezones: Mapping[str, str | None] | None = None, timezone: str | None = None,
             calendar: Iterable[Mapping[str, Any]] | None = None,
             backend: str = "native") -> Engine:
        """Validate and compile `policies` (default: the bundled pack) and open `state`
        (a SQLite file, a postgresql:// URL; default: a private in-memory store).
        `stores` maps store_id to region,
        `timezones` store_id to an IANA time zone (`timezone` for the others), and
        `calendar` gives the calendar table's rows; without them, what the last
        nightly rebuild saved is used. `sync`: "full" fsyncs every event; "normal"
        keeps every event through a process crash but may lose the last ones to an OS
        crash or power loss (docs/service.md). `backend`: "native", or "durable_rules"
        to let durable_rules decide which policies fire (an extra; the same records;
        docs/durable-rules.md)."""
        plan = _plan(policies)
        views = Views.of(plan)
        store = ViewStore(state if state is not None else ":memory:", views, sync)
        store.read(migrate)  # the ledger's tables, created or migrated as ledger.py does
        store.ledger_ready()
        regions = dict(stores) if stores is not None else store.stores()
        zones = Zones(timezones if timezones is not None else store.zones(),
                      timezone if timezone is not None else store.meta().get("timezone"))
        days = calendar_of(calendar) if calendar is not None else Calendar(store.calendar_rows())
        try:
            evaluator = evaluator_for(backend, plan, regions, zones, days, views)
        except BaseException:
            store.close()
            raise
        return cls(StatelessEngine(plan, evaluator, consent_default), store)

    @property
    def plan(self) -> Plan:
        return self.stateless.plan

    @property
    def bundle(self) -> str:
        return self.stateless.plan.bundle

    def close(self) -> None:
        self.store.close()

    def on_purchase(self, receipt: Mapping[str, Any]) -> Answer:
        """Apply a receipt; decide the actions it fired that the ledger did not have.

        The answer lists those to hand out now; `answer.decisions` says what the
        contact rules did with each (emitted, deferred, merged, expired). A
        purchase_id seen before (at the POS or in the history) changes nothing and
        answers []. Raises EventError for bad input.
        """
        parsed = parse_receipt(receipt)
        return self.store.write(lambda tx: self._purchase(tx, parsed), *_purchase_keys(parsed))

    def on_purchases(self, receipts: Iterable[Mapping[str, Any]]) -> list[Answer]:
        """Apply receipts in one transaction (a group commit): the answers are those of
        `on_purchase` on each in turn, but the state is written, and with sync "full"
        fsynced, once for the whole group, which is kept whole or not at all. For a POS
        that forwards its receipts in batches (each batch's answers are durable when
        this returns). Raises EventError for the first bad receipt, naming its place
        in the group, before anything is written."""
        parsed = [_parse_one(index, receipt) for index, receipt in enumerate(receipts)]
        keys = sorted({key for one in parsed for key in _purchase_keys(one)})

        def work(tx: Tx) -> list[Answer]:
            tx.prefetch([one.purchase_id for one in parsed],
                        [one.customer_id for one in parsed if one.customer_id is not None])
            return [self._purchase(tx, one) for one in parsed]

        return self.store.write(work, *keys)

    def _purchase(self, tx: Tx, parsed: Receipt) -> Answer:
        if not tx.claim(parsed.purchase_id):
            return Answer()
        tx.log_receipt(parsed)
        if parsed.customer_id is None:
            return Answer()  # anonymous sales trigger nothing
        view = tx.view(parsed.customer_id) or CustomerView(parsed.customer_id)
        referred_by = view.record.referred_by if view.record else None
        referrer = tx.view(referred_by) if referred_by else None
        actions, after = self.stateless.evaluator.purchase(view, parsed, referrer)
        tx.put(after)
        if not actions:
            return Answer()
        return self._decide(tx, parsed.day, actions, f"pos:{parsed.purchase_id}",
                            [after, referrer])

    def _decide(self, tx: Tx, day: dt.date, actions: list[Action], run: str,
                views: Iterable[CustomerView | None], closing: Iterable[str] = ()) -> Answer:
        """The contact rules for one moment, recorded in the event's transaction.
        Consent comes from the customers' records (`views`, else the stored ones)."""
        records = {v.customer_id: v.record for v in views if v is not None}

        def consent(customer: str, column: str) -> bool:
            if customer not in records:
                view = tx.view(customer)
                records[customer] = view.record if view is not None else None
            record = records[customer]  # an unknown customer consents to nothing
            return bool(record is not None and getattr(record, column))

        return Answer(decide_at_checkout(tx.conn, self.plan.contact, consent, day, actions,
                                         run, closing=closing))

    def on_customer(self, customer: Mapping[str, Any]) -> Answer:
        """Register or update a customer record (a join). No pack policy fires on it."""
        record = parse_customer(customer, self.stateless.evaluator.stores,
                                self.stateless.consent_default)

        def work(tx: Tx) -> Answer:
            tx.log_customer(record)
            view = tx.view(record.customer_id) or CustomerView(record.customer_id)
            tx.put(view._replace(record=record))
            return Answer()

        return self.store.write(work, f"customer:{record.customer_id}")

    def on_complaint(self, complaint: Mapping[str, Any]) -> Answer:
        """Apply a complaint (the `complaints` table's columns); decide the actions it
        fired that the ledger did not have. A complaint_id seen before changes nothing
        and answers []. Raises EventError for bad input."""
        return self._host("complaint", complaint)

    def on_event(self, event: Mapping[str, Any]) -> Answer:
        """Apply a host event (the `events` table's columns: an e-mail, an inquiry, a
        visit, an RSVP); decide its actions. An event_id seen before answers []."""
        return self._host("event", event)

    def _host(self, trigger: str, event: Mapping[str, Any]) -> Answer:
        parsed = parse_host_event(trigger, event)
        evaluator = self.stateless.evaluator

        def work(tx: Tx) -> Answer:
            if not tx.claim(f"{trigger}:{parsed.row_id}"):
                return Answer()
            overdue = overdue_at(tx.conn, parsed.at)
            view = tx.view(parsed.customer_id)
            # no record: nothing fires (the batch's contexts join the customers table)
            actions = evaluator.host(view, parsed) if view is not None else []
            if not actions and not overdue:
                return Answer()
            return self._decide(tx, parsed.at.date(), [*overdue, *actions],
                                f"pos-{trigger}:{parsed.row_id}", [view])

        return self.store.write(work, f"customer:{parsed.customer_id}")

    def on_day(self, customer_id: str, day: dt.date) -> Answer:
        """Close the customer's `day`: its schedules (birthday, lapse, 1 January
        downgrade) from the view as it is at this moment, and the customer's deferred
        actions due by then, decided together and recorded in the ledger."""
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise EventError("bad-date", "day must be a date", "day")

        def work(tx: Tx) -> Answer:
            view = tx.view(customer_id)
            if view is None:
                return Answer()
            actions = self.stateless.evaluator.day(view, day)
            return self._decide(tx, day, actions, f"pos-day:{day.isoformat()}", [view],
                                closing=[customer_id])

        return self.store.write(work, f"customer:{customer_id}")

    def open_actions(self, customer_id: str) -> list[Action]:
        """The customer's open actions in the ledger (nightly and POS), oldest first."""
        def work(conn: Connection) -> list[Any]:
            query = ("SELECT record FROM actions WHERE customer_id = ? AND status = 'open' "
                     f"ORDER BY as_of, {dialect_of(conn).insertion_order}")
            return conn.execute(query, (customer_id,)).fetchall()

        rows = self.store.read(work)
        return [json.loads(r[0]) for r in rows]

    def view(self, customer_id: str) -> CustomerView | None:
        """The customer's stored view, or None."""
        return self.store.view(customer_id)

    def metrics(self, customer_id: str, day: dt.date | None = None) -> dict[str, Any] | None:
        """The customer's declared metrics at the end of `day` (default: right after
        their last receipt), by name; None for a customer without a view."""
        view = self.view(customer_id)
        return self.stateless.metrics(view, day) if view is not None else None


def _purchase_keys(parsed: Receipt) -> tuple[str, ...]:
    """The locks a receipt's transaction takes: its store's, its customer's."""
    customer = () if parsed.customer_id is None else (f"customer:{parsed.customer_id}",)
    return (f"store:{parsed.store_id}", *customer)


def _parse_one(index: int, receipt: Mapping[str, Any]) -> Receipt:
    try:
        return parse_receipt(receipt)
    except EventError as err:
        message = str(err).split(": ", 1)[-1]
        raise EventError(err.code, f"receipt {index} of the group: {message}", err.field) from err
