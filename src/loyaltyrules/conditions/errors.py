"""ExprError: one problem in one expression, located by character offsets."""

from __future__ import annotations

from ..diagnostics import Diagnostic, Location, Severity


class ExprError(Exception):
    """A coded problem at `offset`..`end` (0-based character offsets into the text)."""

    def __init__(
        self,
        code: str,
        message: str,
        offset: int,
        end: int | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(f"[{code}] {message} (at {offset})")
        self.code = code
        self.message = message
        self.offset = offset
        self.end = offset if end is None else max(end, offset)
        self.suggestion = suggestion

    def __repr__(self) -> str:
        return f"ExprError({self.code!r}, {self.message!r}, {self.offset}, {self.end})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExprError):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> tuple[int, int, str, str]:
        return (self.offset, self.end, self.code, self.message)

    def diagnostic(self, at: Location, severity: Severity = Severity.ERROR) -> Diagnostic:
        """A Diagnostic for an expression whose first character sits at `at` (one line)."""
        location = at if at.line <= 0 else Location(at.file, at.line, at.col + self.offset)
        return Diagnostic(self.code, self.message, location, self.suggestion, severity)
