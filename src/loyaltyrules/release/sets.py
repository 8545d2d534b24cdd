"""A policy set named on the command line: a folder (or file) of policy files, or a
bundle file; compiled to a Plan either way."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..plan import Plan, compile_paths
from .bundle import load_plan


def is_bundle(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def plan_of(path: Path, public_key: Path | None = None) -> Plan:
    """Raises DiagnosticError for an invalid set (BundleRefused for a bundle)."""
    if is_bundle(path):
        return load_plan(path, public_key)
    return compile_paths([path])
