"""Finding policy-set files and loading them as positioned YAML documents."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..yamlsource import YamlDocument, load_yaml_file

YAML_SUFFIXES = (".yaml", ".yml")

# The folder a file sits in says what it is unless the file names its `kind`.
_FOLDER_KINDS = {"overrides": "override", "templates": "templates", "tests": "policy-test"}
KINDS = ("policy", "override", "templates", "policy-test", "contact-rules")
CONTACT_RULES_NAMES = ("contact-rules.yaml", "contact-rules.yml")


@dataclass(frozen=True)
class PolicySetFile:
    path: Path
    display: str
    root: Path
    folder_kind: str

    def relative(self) -> str:
        if self.root == self.path:
            return self.path.name
        return self.path.relative_to(self.root).as_posix()


@dataclass(frozen=True)
class LoadedFile:
    source: PolicySetFile
    doc: YamlDocument
    kind: str


def display_name(path: Path) -> str:
    """Paths relative to the working directory where possible, as users typed them."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def discover(paths: Iterable[Path]) -> tuple[list[PolicySetFile], list[Diagnostic]]:
    files: list[PolicySetFile] = []
    problems: list[Diagnostic] = []
    for given in paths:
        if given.is_dir():
            files.extend(_walk(given))
        elif given.is_file():
            kind = ("contact-rules" if given.name in CONTACT_RULES_NAMES
                    else _folder_kind(given.parent.name))
            files.append(PolicySetFile(given, display_name(given), given.parent, kind))
        else:
            problems.append(Diagnostic("file.not-found", "no such file or folder",
                                       Location(str(given)), "check the path"))
    return sorted(set(files), key=lambda f: f.display), problems


def _walk(root: Path) -> list[PolicySetFile]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in YAML_SUFFIXES or not path.is_file():
            continue
        parts = path.relative_to(root).parts[:-1]
        kind = next((_FOLDER_KINDS[p] for p in parts if p in _FOLDER_KINDS), "policy")
        if not parts and path.name in CONTACT_RULES_NAMES:
            kind = "contact-rules"  # at the root of the policy set, the name says it
        found.append(PolicySetFile(path, display_name(path), root, kind))
    return found


def _folder_kind(name: str) -> str:
    return _FOLDER_KINDS.get(name, "policy")


def load(file: PolicySetFile) -> LoadedFile | list[Diagnostic]:
    try:
        doc = load_yaml_file(file.path, file.display)
    except DiagnosticError as err:
        return list(err.diagnostics)
    declared = doc.data.get("kind") if isinstance(doc.data, dict) else None
    kind = declared if declared in KINDS else file.folder_kind
    return LoadedFile(file, doc, kind)
