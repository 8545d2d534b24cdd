"""Option defaults shared by the commands."""

from __future__ import annotations

from pathlib import Path

from ..resources import default_policies_dir


def default_policy_paths() -> list[Path]:
    """./policies when the working directory has one, else the bundled default pack."""
    local = Path("policies")
    return [local] if local.is_dir() else [default_policies_dir()]
