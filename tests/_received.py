"""What a host received from a run (the files of an output folder, and the actions in
them) and what the ledger recorded and still owes: shared by the crash, concurrency
and delivery tests."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from _states import intact, rows

Received = dict[str, bytes]


def received(out: Path) -> Received:
    """Every output file a host can read, by path inside the folder."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def received_actions(files: Received) -> list[dict[str, Any]]:
    """The action records of every JSON Lines file (each action once per file it is in)."""
    return [json.loads(line) for name, body in files.items()
            if name.startswith("actions-") and name.endswith(".jsonl")
            for line in body.decode("utf-8").splitlines()]


def _without_id(record: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in record.items() if k != "action_id"}, sort_keys=True)


def assert_same_as_reference(got: Received, want: Received) -> None:
    """The same files, and so the same actions, each under its one id."""
    assert sorted(got) == sorted(want)
    different = [name for name in want if got[name] != want[name]]
    assert not different, f"files differ from the uninterrupted run: {different[:5]}"
    records = received_actions(got)
    ids = [r["action_id"] for r in records]
    assert len(ids) == len(set(ids)), "an action was received in two dates' files"
    # no action received under another id: the records without their ids match too
    assert Counter(map(_without_id, records)) == Counter(map(_without_id,
                                                            received_actions(want)))


def recorded(state: str | Path) -> list[tuple[str, str, str]]:
    """Every action of the ledger (id, status, record), after an integrity check."""
    intact(state)
    return [(str(a), str(s), str(r)) for a, s, r in rows(
        state, "SELECT action_id, status, record FROM actions ORDER BY action_id")]


def owed(state: str | Path) -> int:
    """Outbox rows not delivered yet."""
    return int(rows(state, "SELECT count(*) FROM deliveries WHERE delivered_at IS NULL")[0][0])
