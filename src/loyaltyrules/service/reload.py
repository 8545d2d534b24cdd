"""Policy hot reload: poll the files, rebuild on change, swap atomically.

A background thread hashes the policy files' bytes every `interval` seconds. When the
hash changes it validates and compiles the new set into a new engine, off the request
path; only then does it replace the current one, by a single reference assignment,
so a request sees either the old engine or the new one, never a mix. A set that fails
validation is reported (`error`, and one log line with the problem count) and the
last good engine stays active until the files change again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from ..diagnostics import DiagnosticError
from ..validation.discover import discover

log = logging.getLogger("loyaltyrules.service")

RETIRE_AFTER = 120.0  # seconds a replaced engine stays open for requests still using it

T = TypeVar("T")


@dataclass(frozen=True)
class Loaded(Generic[T]):
    engine: T
    fingerprint: str
    loaded_at: str


@dataclass(frozen=True)
class ReloadError:
    at: str
    fingerprint: str
    diagnostics: int
    codes: tuple[str, ...]  # the distinct diagnostic codes, for a first look
    message: str


def fingerprint(paths: Sequence[Path]) -> str | None:
    """Hash of every policy-set file's name and bytes; None while files are in flux."""
    digest = hashlib.sha256()
    sources, problems = discover(paths)
    for problem in problems:
        digest.update(problem.code.encode() + problem.location.file.encode() + b"\0")
    try:
        for source in sources:
            digest.update(source.display.encode() + b"\0" + source.path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _close(engine: object) -> None:
    close = getattr(engine, "close", None)
    if callable(close):
        close()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class PolicyReloader(Generic[T]):
    """Holds the active engine and replaces it when the policy files change."""

    def __init__(self, paths: Sequence[Path], build: Callable[[Sequence[Path]], T],
                 interval: float) -> None:
        self.paths = list(paths)
        self.interval = interval
        self._build = build
        first = fingerprint(self.paths) or ""
        self._current: Loaded[T] = Loaded(build(self.paths), first, _now())
        self._error: ReloadError | None = None
        self._retired: list[tuple[float, T]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Loaded[T]:
        return self._current

    @property
    def error(self) -> ReloadError | None:
        return self._error

    def check(self) -> bool:
        """One poll: rebuild if the files changed; True when a new engine became active."""
        seen = fingerprint(self.paths)
        if seen is None:
            return False
        if seen == self._current.fingerprint:
            self._error = None  # the files are back to the active set
            return False
        if self._error is not None and seen == self._error.fingerprint:
            return False  # the same broken files: wait for the next edit
        try:
            engine = self._build(self.paths)
        except DiagnosticError as err:
            self._fail(seen, len(err.diagnostics), tuple(sorted({d.code for d in err.diagnostics})),
                       f"{len(err.diagnostics)} problems in the policies")
            return False
        except Exception as err:  # any failure keeps the last good engine
            self._fail(seen, 0, (), f"policy load failed: {type(err).__name__}")
            return False
        if fingerprint(self.paths) != seen:  # edited while compiling: try again next poll
            _close(engine)
            return False
        old = self._current.engine
        self._current = Loaded(engine, seen, _now())  # the atomic swap
        self._error = None
        self._retired.append((time.monotonic(), old))
        log.info("policies reloaded: bundle %s", getattr(engine, "bundle", "?"))
        return True

    def _fail(self, seen: str, count: int, codes: tuple[str, ...], message: str) -> None:
        self._error = ReloadError(_now(), seen, count, codes, message)
        log.warning("policy reload failed (%s; codes: %s); keeping bundle %s", message,
                    ", ".join(codes) or "-", getattr(self._current.engine, "bundle", "?"))

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="policy-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self) -> None:
        """Stop polling and close every engine, the active one included (at exit)."""
        self.stop()
        self.close_retired(older_than=0.0)
        _close(self._current.engine)

    def close_retired(self, older_than: float = RETIRE_AFTER) -> None:
        """Close replaced engines once no request can still be using them."""
        now = time.monotonic()
        keep = [(at, e) for at, e in self._retired if now - at < older_than]
        for at, engine in self._retired:
            if now - at >= older_than:
                _close(engine)
        self._retired = keep

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
                self.close_retired()
            except Exception as err:  # the poller must outlive any failure
                log.error("policy reload poll failed: %s", type(err).__name__)
