"""What `run` and `export` share: the run lock and the delivery's errors and warnings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import click

from ..config import Config
from ..delivery import DeliveryFailed
from ..ledger import SCHEMA_VERSION
from ..runlock import DEFAULT_TIMEOUT, RunLockTimeout, run_lock
from ..state import StateStore
from . import settings

F = TypeVar("F", bound=Callable[..., Any])


def lock_timeout_option(f: F) -> F:
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(0),
        help="Seconds to wait while another run or export holds the ledger (default "
        f"[run] lock_timeout of loyaltyrules.toml, else {DEFAULT_TIMEOUT:g}; 0: do not wait).",
    )(f)


def lock_timeout(config: Config, given: float | None) -> float:
    """--lock-timeout, else `[run] lock_timeout`, else DEFAULT_TIMEOUT."""
    if given is not None:
        return given
    value = (config.sections.get("run") or {}).get("lock_timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        settings.fail("[run] lock_timeout must be a number of seconds, 0 or more",
                      settings.EXIT_INVALID)
    return float(value)


@contextlib.contextmanager
def holding_run_lock(state: StateStore, timeout: float,
                     store: str | None = None) -> Iterator[None]:
    """The block with the run lock of `state` (of `store` in it) held; exit 75 if it
    stays busy.

    The state is checked first (exit 3 when it cannot be one), so no lock file is made
    beside a file that is refused."""
    state.check(SCHEMA_VERSION)
    whose = f"{state}" if store is None else f"store {store} of {state}"

    def waiting(holder: str) -> None:
        click.echo(f"loyaltyrules: another run holds {whose} ({holder}); "
                   f"waiting up to {timeout:g} s", err=True)

    try:
        with run_lock(state, timeout, waiting, store):
            yield
    except RunLockTimeout as err:
        settings.fail(f"{err}; nothing was done. Try again later, or wait longer with "
                      "--lock-timeout or [run] lock_timeout", settings.EXIT_BUSY)


@contextlib.contextmanager
def delivery_errors() -> Iterator[None]:
    """A file that could not be written: exit 74, saying what is safe and what to do."""
    try:
        yield
    except DeliveryFailed as err:
        days = err.delivery.days
        span = f"--as-of {days[0]}" + (f" --through {days[-1]}" if len(days) > 1 else "")
        settings.fail(
            f"{err}. Every action is recorded in the ledger and owed to {err.target}: "
            "the next run writes it there first, or run "
            f"`loyaltyrules export {span} --out {err.target.place}` once the cause is fixed",
            settings.EXIT_OUTPUT)


def warn_owed_elsewhere(elsewhere: Mapping[str, int]) -> None:
    """Actions an earlier run recorded for another --out and could not write there."""
    for place, count in elsewhere.items():
        click.echo(f"loyaltyrules: warning: {count} actions recorded for {place} are not "
                   f"written there yet; a run or `loyaltyrules export` with --out {place} "
                   "writes them", err=True)
