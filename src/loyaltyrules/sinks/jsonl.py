"""The run output: JSON Lines, one action record per line (DESIGN section 3)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from .atomic import atomic_text_file
from .record import json_default, ordered_action

__all__ = ["STDOUT", "action_line", "write_jsonl"]

STDOUT = "-"


def action_line(action: Mapping[str, Any]) -> str:
    """One compact JSON line, fields in schema order, non-ASCII kept as UTF-8."""
    return json.dumps(ordered_action(action), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False, default=json_default) + "\n"


def _write_lines(actions: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    for action in actions:
        out.write(action_line(action))
        count += 1
    return count


def _write_stdout(actions: Iterable[Mapping[str, Any]]) -> int:
    sys.stdout.flush()  # keep anything printed before ahead of the records
    count = 0
    raw = getattr(sys.stdout, "buffer", None)
    if raw is None:  # a replaced text-only stream
        return _write_lines(actions, sys.stdout)
    # Bytes, so the output is UTF-8 with "\n" whatever the console's code page.
    for action in actions:
        raw.write(action_line(action).encode("utf-8"))
        count += 1
    raw.flush()
    return count


def write_jsonl(actions: Iterable[Mapping[str, Any]], target: str | os.PathLike[str]) -> int:
    """Write `actions` to `target` ("-" = stdout); returns the number of records.

    A path is replaced atomically: readers see the old file or the whole new one.
    """
    if isinstance(target, str) and target == STDOUT:
        return _write_stdout(actions)
    with atomic_text_file(target) as out:
        return _write_lines(actions, out)
