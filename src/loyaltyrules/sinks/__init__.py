"""Where actions leave the system: JSON Lines, CSV and per-assignee task sheets.

See docs/outputs.md. Every file is written atomically. JSON Lines and CSV carry ids,
never personal data; task sheets show names and contact details only from a
directory read with enrichment on (sinks/directory.py).
"""

from __future__ import annotations

from .csvfile import CSV_COLUMNS, CSV_ENCODING, write_csv
from .directory import Directory, directory_from
from .jsonl import STDOUT, action_line, write_jsonl, write_lines
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
    "Directory",
    "JsonlSink",
    "Sink",
    "TaskSheetSink",
    "Templates",
    "action_line",
    "directory_from",
    "ordered_action",
    "sinks_for",
    "write_csv",
    "write_jsonl",
    "write_lines",
    "write_task_sheets",
]
