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
KINDS = ("policy", "override", "templates", "policy-test", "contact-rules", "metrics")
CONTACT_RULES_NAMES = ("contact-rules.yaml", "contact-rules.yml")
METRICS_NAMES = ("metrics.yaml", "metrics.yml")
# At the root of a policy set (or given alone), these file names say the kind.
_NAMED_KINDS = {**dict.fromkeys(CONTACT_RULES_NAMES, "contact-rules"),
                **dict.fromkeys(METRICS_NAMES, "metrics")}


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
            found, broken = _walk(given)
            files.extend(found)
            problems.extend(broken)
        elif given.is_file():
            kind = _NAMED_KINDS.get(given.name) or _folder_kind(given.parent.name)
            files.append(PolicySetFile(given, display_name(given), given.parent, kind))
        elif given.is_symlink():
            problems.append(_broken_link(given))
        else:
            problems.append(Diagnostic("file.not-found", "no such file or folder",
                                       Location(str(given)), "check the path"))
    return sorted(set(files), key=lambda f: f.display), problems


def _walk(root: Path) -> tuple[list[PolicySetFile], list[Diagnostic]]:
    """Every policy-set file under root, following links to folders (a link back to
    a folder it sits in is a loop, reported); a link to a file that cannot be read
    is reported too, never skipped in silence."""
    found: list[PolicySetFile] = []
    problems: list[Diagnostic] = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        here = Path(folder)
        ancestors = _real_ancestors(root, here)
        for name in list(subfolders):
            if (here / name).resolve() in ancestors:
                subfolders.remove(name)  # os.walk would go round the loop forever
                problems.append(_link_loop(here / name))
        for name in sorted(names):
            path = here / name
            if not path.is_file():
                if path.is_symlink() and _may_be_ours(name):
                    problems.append(_broken_link(path))
                continue
            if path.suffix in YAML_SUFFIXES:
                found.append(_set_file(root, path))
    return sorted(found, key=lambda f: f.path), problems


def _set_file(root: Path, path: Path) -> PolicySetFile:
    parts = path.relative_to(root).parts[:-1]
    kind = next((_FOLDER_KINDS[p] for p in parts if p in _FOLDER_KINDS), "policy")
    if not parts and path.name in _NAMED_KINDS:
        kind = _NAMED_KINDS[path.name]  # at the root of the policy set, the name says it
    return PolicySetFile(path, display_name(path), root, kind)


def _real_ancestors(root: Path, folder: Path) -> set[Path]:
    """The real folders from root down to `folder` (the path os.walk took)."""
    chain = {root.resolve()}
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        chain.add(current.resolve())
    return chain


def _may_be_ours(name: str) -> bool:
    """A policy file or a folder of them; not an editor's lock link (`.#name.yaml`)."""
    return not name.startswith(".#") and Path(name).suffix in (*YAML_SUFFIXES, "")


def _broken_link(path: Path) -> Diagnostic:
    target = os.readlink(path)
    try:
        path.resolve(strict=True)
    except FileNotFoundError:
        problem = f"a symbolic link to {target!r}, which does not exist"
    except (OSError, RuntimeError):  # ELOOP: RuntimeError before Python 3.13
        problem = f"a symbolic link to {target!r} that leads back to itself (a loop)"
    else:
        problem = f"a symbolic link to {target!r}, which is not a readable file"
    return Diagnostic("file.broken-link", problem, Location(display_name(path)),
                      "point the link at an existing policy file, or remove it")


def _link_loop(path: Path) -> Diagnostic:
    return Diagnostic("file.broken-link",
                      f"a symbolic link to {os.readlink(path)!r}, a folder it sits in "
                      "(a loop)", Location(display_name(path)), "remove the link")


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
