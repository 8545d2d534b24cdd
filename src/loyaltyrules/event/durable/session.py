"""The durable_rules C engine, driven one short-lived session per event.

The package's Python host (`durable.lang`, `durable.engine.Host`) starts two timer
threads that poll every ruleset forever; this module calls the C extension
(`durable_rules_engine`) directly instead, so nothing runs in the background. Each
event opens a session with a new id (and a first fact that a rule always answers:
the engine crashes deleting a session in which no rule fired), asserts its candidate
facts, reads which rules fired and deletes the session before the next event starts:
the engine's limit of 1,024 live sessions per ruleset (past which it corrupts memory)
is never near. The C
engine is not thread-safe, so one lock serialises the sessions of a ruleset.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from .compiler import OPEN_FACT, OPEN_RULE

# The error codes of durable_rules 2.0.28 (src/rules/rules.h) in words.
ERRORS: Mapping[int, str] = {
    101: "the rules engine ran out of memory",
    102: "a value of an unexpected type",
    103: "a name longer than the engine allows",
    104: "an unexpected value",
    105: "an unexpected name",
    106: "more rules than the engine allows",
    107: "more 'exists' tests than the engine allows",
    108: "more joins than the engine allows",
    109: "a rule without a test",
    110: "an unknown setting",
    111: "an unknown ruleset handle",
    112: "more rulesets than the engine allows",
    113: "an expression more deeply nested than the engine allows",
    201: "a value the engine could not parse",
    202: "a string the engine could not parse",
    203: "a number the engine could not parse",
    204: "an object the engine could not parse",
    205: "an array the engine could not parse",
    302: "a fact with more than 255 properties",
    303: "an expression too deep for the engine's stack",
    304: "more than 16 facts in one rule frame",
    305: "a fact the engine lost track of",
    306: "a location the engine lost track of",
    307: "a node deleted while in use",
    308: "a node already dispatching",
    309: "a session id the engine does not know",
    311: "a property the engine could not find",
    312: "an operation the engine does not support",
    313: "a fact larger than the engine allows",
    314: "a property larger than the engine allows",
    501: "a pattern the engine could not parse",
}
HANDLED, NOT_HANDLED, OBSERVED, DEFERRED = 0, 1, 2, 3
_CODE = re.compile(r"error code: (\d+)")


class DurableUnavailable(RuntimeError):
    """durable_rules is not installed or does not import on this Python."""


class DurableError(RuntimeError):
    """The C engine failed; the message says what in words (and gives its code)."""


def readable(error: BaseException) -> DurableError:
    """The engine's `error code: N` turned into a sentence."""
    found = _CODE.search(str(error))
    if isinstance(error, MemoryError):
        return DurableError(f"durable_rules: {ERRORS[101]} (error code 101)")
    if found is None:
        return DurableError(f"durable_rules failed: {error}")
    code = int(found.group(1))
    what = ERRORS.get(code, "an error it does not document")
    return DurableError(f"durable_rules: {what} (error code {code})")


def load_engine() -> ModuleType:
    """The C extension, or DurableUnavailable saying why and what to do."""
    try:
        import durable_rules_engine
    except ImportError as err:
        version = ".".join(map(str, sys.version_info[:2]))
        raise DurableUnavailable(
            f"the durable_rules backend needs durable-rules 2.0.28 built for this Python "
            f"({version}): {err}. Install it with pip install 'loyaltyrules[durable]' (a C "
            "compiler is needed; it imports on Python 3.10 to 3.12, not on 3.13), or use "
            "the native backend (docs/durable-rules.md)") from None
    module: ModuleType = durable_rules_engine
    return module


class Ruleset:
    """One compiled ruleset in the C engine; `fired` runs one event's session."""

    _names = itertools.count()

    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.engine = load_engine()
        self.name = f"loyaltyrules{next(self._names)}"
        self._lock = threading.Lock()
        self._sessions = itertools.count()
        try:
            self.handle = self.engine.create_ruleset(self.name, json.dumps(definition))
        except Exception as err:
            raise readable(err) from None

    def fired(self, facts: Sequence[Mapping[str, Any]]) -> list[set[str]]:
        """For each fact, the names of the rules it fired, in one fresh session."""
        found: list[set[str]] = [set() for _ in facts]
        if not facts:
            return found
        with self._lock:
            sid = str(next(self._sessions))
            try:
                opened: list[set[str]] = [set()]
                self._assert(sid, 0, OPEN_FACT, opened, "open")
                if opened != [{OPEN_RULE}]:
                    raise DurableError("durable_rules did not open the session")
                for index, fact in enumerate(facts):
                    self._assert(sid, index, fact, found)
            except DurableError:
                raise
            except Exception as err:
                raise readable(err) from None
            finally:
                self._close(sid)
        return found

    def _assert(self, sid: str, index: int, fact: Mapping[str, Any],
                found: list[set[str]], prefix: str = "") -> None:
        message = json.dumps({**fact, "sid": sid, "id": f"{prefix}{index}"},
                             separators=(",", ":"))
        code, state = self.engine.assert_fact(self.handle, message)
        if code == OBSERVED:  # a new fact taken for an old one: a hash collision
            raise DurableError("durable_rules took a new fact for one it had already seen "
                               "(a hash collision of fact ids); the event was not decided")
        if code != HANDLED:
            return  # NOT_HANDLED: no rule matched this fact
        result = self.engine.start_action_for_state(self.handle, state)
        while result is not None:
            for rule, frame in json.loads(result[1]).items():
                found[int(frame["m"]["id"].removeprefix(prefix))].add(rule)
            following = self.engine.complete_and_start_action(self.handle, state)
            result = (result[0], following) if following is not None else None

    def _close(self, sid: str) -> None:
        """End the session: a session left open would count towards the 1,024."""
        try:
            self.engine.delete_state(self.handle, sid)
        except Exception as err:
            raise readable(err) from None

    def close(self) -> None:
        with self._lock:
            try:
                self.engine.delete_ruleset(self.handle)
            except Exception as err:
                raise readable(err) from None
