"""Where a run or an export delivers: a folder of per-day files, one file, or stdout.

    out/            a folder: per business date D, actions-D.jsonl, actions-D.csv and
                    tasks-D/ (one sheet per assignee and index.md); three sinks
    actions.jsonl   one JSON Lines file holding every date delivered (one sink)
    actions.csv     one CSV file, the same (one sink)
    -               JSON Lines on standard output (one sink)

A target is named in the outbox by its store and absolute path, so a run started from
another folder still finds what an earlier run left undelivered there, and two stores
sharing a ledger each have their own `out/`.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["FOLDER_SINKS", "STDOUT", "Target"]

Kind = Literal["folder", "jsonl", "csv", "stdout"]
FOLDER_SINKS = ("jsonl", "csv", "tasks")
STDOUT = "-"


@dataclass(frozen=True)
class Target:
    kind: Kind
    place: str  # the absolute path, or "-" for stdout
    shown: str = field(default="", compare=False)  # as the user wrote it
    store: str | None = None  # the store whose actions it receives; None: every store's

    @classmethod
    def parse(cls, out: str, store: str | None = None) -> Target:
        """The target an `--out` value names (see the module docstring)."""
        if out == STDOUT:
            return cls("stdout", STDOUT, "standard output", store)
        place = os.path.abspath(out)
        suffix = Path(out).suffix.lower()
        if suffix in (".jsonl", ".csv"):
            return cls("jsonl" if suffix == ".jsonl" else "csv", place, out, store)
        return cls("folder", place, out, store)

    @property
    def sinks(self) -> tuple[str, ...]:
        """The outbox's sink names for this target, in the order they are written."""
        if self.kind == "folder":
            return FOLDER_SINKS
        return ("csv",) if self.kind == "csv" else ("jsonl",)

    @property
    def per_day(self) -> bool:
        return self.kind == "folder"

    def day_path(self, sink: str, day: dt.date) -> Path:
        """A folder target's file (or, for task sheets, folder) of `sink` on `day`."""
        names = {"jsonl": f"actions-{day}.jsonl", "csv": f"actions-{day}.csv",
                 "tasks": f"tasks-{day}"}
        return Path(self.place) / names[sink]

    def __str__(self) -> str:
        return self.shown or self.place
