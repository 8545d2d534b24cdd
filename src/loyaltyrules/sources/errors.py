"""The one error that stops a run because of its input (the CLI exits with status 2)."""

from __future__ import annotations

from loyaltyrules.diagnostics import Diagnostic, Location


class UnusableInput(Exception):
    """The input cannot be used at all: a missing table, column or file, or too many rejects.

    `code` is a stable dotted name (`input.missing-table`, `input.missing-column`,
    `input.unreadable-file`, `input.ambiguous-table`, `input.too-many-rejects`).
    Messages name tables, columns and files, never row values.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        file: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.table = table
        self.column = column
        self.file = file
        super().__init__(self._render())

    def _render(self) -> str:
        where = ", ".join(f"{label} {value}" for label, value in self._where() if value)
        return f"[{self.code}] {self.message}" + (f" ({where})" if where else "")

    def _where(self) -> tuple[tuple[str, str | None], ...]:
        return (("table", self.table), ("column", self.column), ("file", self.file))

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, Location(self.file or self.table or "input"))
