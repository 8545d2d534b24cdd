"""POST /v1/outcomes: a host's outcome rows, imported into the ledger file.

The rows go through `loyaltyrules.outcomes.import_outcomes`, the same checks and the
same idempotent upsert as an outcomes file: a row with a bad value is rejected (with
its index and a fixed reason, never its text), the others are recorded.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..outcomes import BadOutcomesFile, NoLedger, import_outcomes
from ..resources import load_schema
from ..state import StateStore
from .problems import Problem


def _personal() -> frozenset[str]:
    """Fields the published outcomes schema marks as personal data (the note)."""
    fields = load_schema("outcomes")["properties"]
    return frozenset(name for name, spec in fields.items() if spec.get("x-personal-data"))


def import_rows(state: StateStore, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Import the rows in one transaction; counts plus one entry per rejected value.

    Personal fields are dropped first: the import does not keep them, and they
    should not touch the disk even in a temporary file."""
    personal = _personal()
    with tempfile.TemporaryDirectory(prefix="loyaltyrules-outcomes-") as folder:
        file = Path(folder) / "outcomes.jsonl"
        lines = (json.dumps({k: v for k, v in row.items() if k not in personal},
                            default=_plain, ensure_ascii=False) for row in rows)
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            result = import_outcomes(state, file)
        except NoLedger:
            raise Problem("unavailable", "the state file holds no ledger yet; "
                                         "run `loyaltyrules run` first") from None
        except BadOutcomesFile:
            raise Problem("invalid-request", "the outcomes could not be read") from None
    rejected = [{"index": (r.row or 1) - 1, "field": r.column, "reason": r.reason,
                 "message": r.message} for r in result.rejects]
    return {**result.to_json(), "rejected": rejected}


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)
