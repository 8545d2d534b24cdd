"""Where actions leave the system: JSON Lines, CSV and per-assignee task sheets.

See docs/outputs.md. Every file is written atomically and carries ids, never
personal data.
"""

from __future__ import annotations

from .csvfile import CSV_COLUMNS, CSV_ENCODING, write_csv
from .jsonl import STDOUT, action_line, write_jsonl
from .record import ACTION_FIELDS, ActionRecordError, ordered_action
from .sink import CsvSink, JsonlSink, Sink, TaskSheetSink, sinks_for
from .tasksheet import INDEX_NAME, Templates, write_task_sheets

__all__ = [
    "ACTION_FIELDS",
    "CSV_COLUMNS",
    "CSV_ENCODING",
    "INDEX_NAME",
    "STDOUT",
    "ActionRecordError",
    "CsvSink",
    "JsonlSink",
    "Sink",
    "TaskSheetSink",
    "Templates",
    "action_line",
    "ordered_action",
    "sinks_for",
    "write_csv",
    "write_jsonl",
    "write_task_sheets",
]
