"""Where a run's actions go: the `Sink` protocol and the three file outputs.

A run hands one list of actions to every configured sink, so a sink may read it
more than once. A host embedding the engine may add its own sink (a queue, a table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .csvfile import write_csv
from .directory import Directory
from .jsonl import write_jsonl
from .tasksheet import Templates, write_task_sheets

__all__ = ["CsvSink", "JsonlSink", "Sink", "TaskSheetSink", "sinks_for"]

Actions = Sequence[Mapping[str, Any]]


class Sink(Protocol):
    def write(self, actions: Actions) -> None: ...


@dataclass(frozen=True)
class JsonlSink:
    target: str | os.PathLike[str]  # a path, or "-" for stdout

    def write(self, actions: Actions) -> None:
        write_jsonl(actions, self.target)


@dataclass(frozen=True)
class CsvSink:
    path: str | os.PathLike[str]

    def write(self, actions: Actions) -> None:
        write_csv(actions, self.path)


@dataclass(frozen=True)
class TaskSheetSink:
    folder: str | os.PathLike[str]
    templates: Templates | None = None
    locale: str = "en"
    titles: Mapping[str, str] | None = None
    directory: Directory | None = None  # who is who (sinks/directory.py)

    def write(self, actions: Actions) -> None:
        write_task_sheets(actions, self.folder, self.templates, self.locale, self.titles,
                          directory=self.directory)


def sinks_for(out: str | None, csv: str | None = None, sheets: str | None = None, *,
              templates: Templates | None = None, locale: str = "en",
              titles: Mapping[str, str] | None = None,
              directory: Directory | None = None) -> list[Sink]:
    """The sinks the command-line options name, in a fixed order; None = not wanted."""
    chosen: list[Sink] = []
    if out is not None:
        chosen.append(JsonlSink(out))
    if csv is not None:
        chosen.append(CsvSink(Path(csv)))
    if sheets is not None:
        chosen.append(TaskSheetSink(Path(sheets), templates, locale, titles, directory))
    return chosen
