"""The contact stage of a run: between the evaluator's candidates and the outputs.

With a ledger, the state is read, the range decided and every decision written in
one write transaction with the run record; without one (backtests) the rules run
in memory over an empty history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import duckdb

from ..ledger import Ledger, RunRecord, check_new_run, insert_run, known_in
from ..state import Connection
from .apply import ContactResult, FollowUps, apply_range, rules_for
from .decide import Action
from .history import History
from .model import ContactRules
from .store import load_history, load_survivors, load_waiting, write_decisions


def in_memory(contact: ContactRules, con: duckdb.DuckDBPyConnection, actions: Sequence[Action],
              start: dt.date, end: dt.date, at_close: frozenset[str] = frozenset()
              ) -> ContactResult:
    """A backtest: nights simulated from an empty history, each date delivered on itself.
    `at_close`: the policies decided at a day's close (Rules)."""
    rules = rules_for(contact, con, (str(a["customer_id"]) for a in actions), actions,
                      at_close)
    return apply_range(start, end, actions, (), History(), rules)


FollowUpsAt = Callable[[Connection, dt.date, dt.date], FollowUps | None]


def recorded(contact: ContactRules, con: duckdb.DuckDBPyConnection, actions: Sequence[Action],
             start: dt.date, end: dt.date, ledger: Ledger,
             make_run: Callable[[ContactResult], RunRecord], *,
             delivered_on: dt.date | None = None,
             follow_ups: FollowUpsAt | None = None,
             also: Callable[[Connection, str], object] = lambda _c, _r: None,
             at_close: frozenset[str] = frozenset()) -> ContactResult:
    """Decide the range against the ledger's state and record it; atomically.

    `delivered_on`: when the outputs reach the host (a run: its last date); None
    delivers each date on itself. `follow_ups` builds the escalations of the range
    from the ledger inside the transaction. `also(conn, run_id)` runs last inside the
    same transaction (the run's outbox). A ledger opened for one store decides against
    that store's rows alone. `at_close`: the policies decided at a day's close (Rules)."""
    store = ledger.store
    with ledger.transaction() as conn:
        waiting = load_waiting(conn, end, store=store)
        known = known_in(conn, [str(a["action_id"]) for a in actions])
        new = [a for a in actions if str(a["action_id"]) not in known]
        customers = [str(a["customer_id"]) for a in new] + [str(a["customer_id"])
                                                            for a, _ in waiting]
        rules = rules_for(contact, con, customers, new, at_close)
        result = apply_range(
            start, end, new, waiting, load_history(conn, contact, start, end, store=store),
            rules, survivors=load_survivors(conn, contact, start, end, store=store),
            delivered_on=delivered_on,
            follow_ups=follow_ups(conn, start, end) if follow_ups else None)
        run = make_run(result)
        check_new_run(conn, run)
        emitted = write_decisions(conn, result.decisions.values(), run.run_id, result.updated)
        insert_run(conn, run, len(result.decisions), len(emitted))
        also(conn, run.run_id)
    return result
