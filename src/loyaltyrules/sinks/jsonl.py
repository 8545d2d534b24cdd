"""The run output: JSON Lines, one action record per line (DESIGN section 3)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from .atomic import atomic_text_file
from .record import in_schema_order, json_default

__all__ = ["STDOUT", "action_line", "write_jsonl", "write_lines"]

STDOUT = "-"
# One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                            default=json_default)


def action_line(action: Mapping[str, Any]) -> str:
    """One compact JSON line, fields in schema order, non-ASCII kept as UTF-8."""
    return _ENCODER.encode(in_schema_order(action)) + "\n"


def _write_lines(lines: Iterable[str], out: TextIO) -> int:
    count = 0
    for line in lines:
        out.write(line)
        count += 1
    return count


def _write_stdout(lines: Iterable[str]) -> int:
    sys.stdout.flush()  # keep anything printed before ahead of the records
    count = 0
    raw = getattr(sys.stdout, "buffer", None)
    if raw is None:  # a replaced text-only stream
        return _write_lines(lines, sys.stdout)
    # Bytes, so the output is UTF-8 with "\n" whatever the console's code page.
    for line in lines:
        raw.write(line.encode("utf-8"))
        count += 1
    raw.flush()
    return count


def write_jsonl(actions: Iterable[Mapping[str, Any]], target: str | os.PathLike[str]) -> int:
    """Write `actions` to `target` ("-" = stdout); returns the number of records.

    A path is replaced atomically: readers see the old file or the whole new one.
    """
    return write_lines((action_line(action) for action in actions), target)


def write_lines(lines: Iterable[str], target: str | os.PathLike[str]) -> int:
    """Write lines made by `action_line` (or stored as such: ledger.stored_record) to
    `target` as write_jsonl does; returns their number."""
    if isinstance(target, str) and target == STDOUT:
        return _write_stdout(lines)
    with atomic_text_file(target) as out:
        return _write_lines(lines, out)
