"""Actions as a CSV file for spreadsheets: flat columns, Excel-friendly encoding.

UTF-8 with a byte-order mark (`utf-8-sig`): without it Excel reads the file in the
local code page and garbles non-ASCII text. Cells are guarded against formula
injection. JSON Lines stays the machine-readable output; this one is for people.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .atomic import atomic_text_file
from .record import json_default, merged_details, merged_items, ordered_action, reason_pairs

__all__ = ["CSV_COLUMNS", "CSV_ENCODING", "csv_row", "guard_cell", "merged_text", "write_csv"]

CSV_ENCODING = "utf-8-sig"
CSV_COLUMNS: tuple[str, ...] = (
    "action_id", "as_of", "policy", "policy_version", "type", "customer_id", "store_id",
    "region", "assignee_role", "assignee_id", "not_before", "due_by", "priority",
    "template", "params", "reason_trigger", "reason_purchase_id", "reason_values",
    "reason_merged",  # added last, so columns read by position keep their place
    "due_at", "invitation_event_id", "invitation_date", "reason_row_id",  # likewise
)
MERGED_SEPARATOR = " | "
# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: Any) -> str:
    """The cell's text; a leading apostrophe makes a would-be formula plain text."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _params(params: Any) -> str:
    return json.dumps(params, ensure_ascii=False, separators=(",", ":"),
                      default=json_default)


def _merged_item(item: Mapping[str, Any]) -> str:
    """One merged task: what, which template, due when, why, and its own action id."""
    head = ", ".join([f"{item['policy']}: {item['type']}",
                      *(f"{label} {text}" for label, text in merged_details(item))])
    reason = item["reason"]
    why = f"trigger {reason['trigger']}"
    if reason.get("purchase_id") is not None:
        why += f", purchase {reason['purchase_id']}"
    parts = [head, why, *(f"{k}={v}" for k, v in reason_pairs(item))]
    if item.get("params"):
        parts.append(f"params {_params(item['params'])}")
    return "; ".join([*parts, f"action {item['action_id']}"])


def merged_text(record: Mapping[str, Any]) -> str:
    """The `reason_merged` cell of an ordered record: one entry per merged task, joined
    by " | "; empty when nothing was merged into it."""
    return MERGED_SEPARATOR.join(_merged_item(item) for item in merged_items(record))


def _flat(action: Mapping[str, Any]) -> dict[str, Any]:
    record = ordered_action(action)
    assignee, reason = record["assignee"], record["reason"]
    return {
        **{key: record[key] for key in CSV_COLUMNS if key in record},
        "assignee_role": assignee["role"],
        "assignee_id": assignee["id"],
        "params": _params(record["params"]),
        "reason_trigger": reason["trigger"],
        "reason_purchase_id": reason.get("purchase_id"),
        "reason_values": "; ".join(f"{k}={v}" for k, v in reason_pairs(record)),
        "reason_merged": merged_text(record),
        "due_at": record.get("due_at"),
        **{f"invitation_{k}": (record.get("invitation") or {}).get(k)
           for k in ("event_id", "date")},
        "reason_row_id": reason.get("complaint_id") or reason.get("event_id"),
    }


def csv_row(action: Mapping[str, Any]) -> list[str]:
    """The action's cells in `CSV_COLUMNS` order, guarded."""
    flat = _flat(action)
    return [guard_cell(flat[column]) for column in CSV_COLUMNS]


def write_csv(actions: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write `actions` to `path` atomically (header row first); returns the row count."""
    count = 0
    with atomic_text_file(path, encoding=CSV_ENCODING, newline="") as out:
        writer = csv.writer(out)  # RFC 4180: CRLF line ends, quotes only when needed
        writer.writerow(CSV_COLUMNS)
        for action in actions:
            writer.writerow(csv_row(action))
            count += 1
    return count
