"""Files shipped with the package: the published schemas and the default policy pack.

In a wheel they live under `loyaltyrules/_bundled/`; in a source checkout (editable
install, tests) they are the repository's top-level `schemas/` and `policies/`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _bundled(folder: str) -> Path:
    packaged = Path(str(resources.files("loyaltyrules"))) / "_bundled" / folder
    if packaged.is_dir():
        return packaged
    return _REPO_ROOT / folder


def schemas_dir() -> Path:
    return _bundled("schemas")


def default_policies_dir() -> Path:
    return _bundled("policies")


def schema_names() -> list[str]:
    """Published schema names: `policy`, `action`, `customers`, ..."""
    return sorted(p.name.removesuffix(".schema.json") for p in schemas_dir().glob("*.schema.json"))


def schema_text(name: str) -> str:
    path = schemas_dir() / f"{name}.schema.json"
    return path.read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded
