"""Bad input to the per-event API, as a typed error with a stable code.

Messages name the field and the problem, never the value: a value may be personal
data (a phone number typed into the wrong field) and must not reach a log.
"""

from __future__ import annotations


class EventError(ValueError):
    """An event the engine cannot take. `code` is stable; `field` names the input field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.field = field
