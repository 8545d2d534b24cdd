"""Every user-facing problem is a Diagnostic: a stable code, a message, a location.

Validation collects diagnostics instead of raising, so one `validate` run reports
every problem in every file, sorted by location.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in a named file (line 0 means "the whole file")."""

    file: str
    line: int = 0
    col: int = 0

    def shifted(self, line_offset: int, col: int) -> Location:
        """A position inside a scalar that starts at this location."""
        return Location(self.file, self.line + line_offset, col)

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location
    suggestion: str | None = None
    severity: Severity = Severity.ERROR
    related: tuple[Location, ...] = field(default=())

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.file, loc.line, loc.col, self.code, self.message)

    def render(self) -> str:
        text = f"{self.location}: {self.severity.value} [{self.code}] {self.message}"
        for other in self.related:
            text += f"\n    see also {other}"
        if self.suggestion:
            text += f"\n    hint: {self.suggestion}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "suggestion": self.suggestion,
            "related": [str(r) for r in self.related],
        }


class DiagnosticError(Exception):
    """Raised where a stage cannot go on; carries the diagnostics gathered so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """'did you mean X?' for the closest known name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics), key=Diagnostic.sort_key)
