"""Bundles: a policy set as one file HQ ships to stores, optionally signed.

A bundle is a zip holding `manifest.json` and the policy set's files under `files/`
(policies, overrides, templates, contact rules and any other shipped kind; never the
test cases). The manifest lists each file with its SHA-256, and its `bundle` is the
policy set's content hash (validation/pipeline.py: comments and tests do not change
it), the id every action carries. A signed bundle carries, as the zip's comment (the
last bytes of the file), an Ed25519 signature of every byte before it: with a public
key configured, a change to any byte of the file is refused.

Opening a bundle checks, in order: it is a zip of this format; it holds exactly the
files its manifest lists, each with its hash; with a public key, it is signed by that
key; its files validate; and their content hash is the manifest's. Any failure
refuses the whole bundle (BundleRefused) with the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..plan import Plan, compile_result
from ..resources import schemas_dir
from ..validation.discover import LoadedFile
from ..validation.pipeline import shipped, validate_paths
from . import signing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORMAT = "loyaltyrules-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = "files/"
# A fixed timestamp for every zip entry: the same set builds the same bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class BundleRefused(DiagnosticError):
    """A bundle that must not be used; the message says why. A DiagnosticError, so a
    service reloading a refused bundle reports it and keeps the last good one."""

    def __init__(self, reason: str) -> None:
        super().__init__([Diagnostic("bundle.refused", reason, Location("bundle"))])
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Verified:
    manifest: dict[str, Any]
    signed_by: str | None  # the key id of a checked signature
    signature_present: bool
    folder: Path  # the bundle's files, while the bundle is open

    @property
    def bundle(self) -> str:
        return str(self.manifest["bundle"])


def schema_versions() -> dict[str, str]:
    """Each published schema's content hash: what the files were validated against."""
    return {p.name.removesuffix(".schema.json"):
            "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in sorted(schemas_dir().glob("*.schema.json"))}


def _entry_name(file: LoadedFile) -> str:
    """The file's path from its set's parent folder, so folder kinds (overrides/,
    templates/) survive: policies/overrides/north.yaml stays so."""
    source = file.source
    return (PurePosixPath(source.root.name) / source.relative()).as_posix()


def build(paths: Sequence[Path], out: Path, key: Path | None = None) -> dict[str, Any]:
    """Validate the set, write the bundle to `out` (atomically), return its manifest.
    Raises DiagnosticError for an invalid set, signing.BadKey for a bad key."""
    result = validate_paths(paths)
    plan = compile_result(result)  # raises DiagnosticError when invalid
    files = shipped(result.context.loaded)
    entries: dict[str, tuple[bytes, str]] = {}
    for file in files:
        name = _entry_name(file)
        if name in entries:
            raise BundleRefused(f"two files would both be {name} in the bundle: "
                                "give the policy sets from folders of different names")
        entries[name] = (file.source.path.read_bytes(), file.kind)
    manifest = _manifest(plan, entries)
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    private = signing.load_private(key) if key is not None else None
    _write(out, _zip(manifest_bytes, entries, private))
    return manifest


def _manifest(plan: Plan, entries: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bundle": plan.bundle,
        "built_with": f"loyaltyrules {__version__}",
        "schema_versions": schema_versions(),
        "policies": [{"id": p.id, "version": p.version} for p in plan.policies],
        "files": [{"path": name, "kind": kind, "sha256": hashlib.sha256(data).hexdigest()}
                  for name, (data, kind) in sorted(entries.items())],
    }


def _zip(manifest: bytes, entries: dict[str, tuple[bytes, str]],
         key: Ed25519PrivateKey | None) -> bytes:
    """The bundle's bytes; signed, the comment is the signature of all bytes before it
    (written first as a placeholder of the signature's fixed length)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if key is not None:
            zf.comment = b"\0" * signing.COMMENT_LENGTH
        _put(zf, MANIFEST, manifest)
        for name, (data, _kind) in sorted(entries.items()):
            _put(zf, FILES + name, data)
    data = buffer.getvalue()
    if key is None:
        return data
    signed = data[:-signing.COMMENT_LENGTH]
    return signed + signing.comment(key, signed)


def _write(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(data)
    partial.replace(out)


def _put(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, zipfile.ZIP_DEFLATED)


# -- opening -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Read:
    raw: bytes
    contents: dict[str, bytes]
    comment: bytes


def _read_zip(path: Path) -> _Read:
    try:
        raw = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            contents = {info.filename: zf.read(info) for info in zf.infolist()
                        if not info.is_dir()}
            return _Read(raw, contents, zf.comment)
    except FileNotFoundError as err:
        raise BundleRefused(f"{path}: no such file") from err
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError,
            NotImplementedError) as err:
        raise BundleRefused(f"{path} is not a readable bundle ({err})") from err


def _manifest_of(contents: dict[str, bytes], path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(contents[MANIFEST])
    except KeyError as err:
        raise BundleRefused(f"{path} has no {MANIFEST}: not a loyaltyrules bundle") from err
    except ValueError as err:
        raise BundleRefused(f"{path}: its {MANIFEST} is not JSON ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleRefused(f"{path} is not a loyaltyrules bundle")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleRefused(f"{path} is bundle format {manifest.get('format_version')}; "
                            f"this release reads format {FORMAT_VERSION}")
    return manifest


def _check_files(contents: dict[str, bytes], manifest: dict[str, Any], path: Path) -> None:
    listed = {FILES + str(f["path"]): str(f["sha256"]) for f in manifest.get("files") or []}
    for name in contents:
        if name != MANIFEST and name not in listed:
            raise BundleRefused(f"{path}: {name} is not in the manifest (tampered)")
    for name, digest in listed.items():
        _safe_name(name, path)
        if name not in contents:
            raise BundleRefused(f"{path}: {name} is listed but missing (tampered)")
        if hashlib.sha256(contents[name]).hexdigest() != digest:
            raise BundleRefused(f"{path}: {name} does not match its hash in the manifest "
                                "(tampered or damaged)")


def _safe_name(name: str, path: Path) -> None:
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts or "\\" in name:
        raise BundleRefused(f"{path}: the entry {name!r} points outside the bundle")


def _check_signature(read: _Read, public_key: Path | None, path: Path) -> str | None:
    if public_key is None:
        return None
    key = signing.load_public(public_key)
    if not read.comment:
        raise BundleRefused(f"{path} is not signed, and a public key is configured "
                            f"({public_key}): only signed bundles are accepted")
    signed = read.raw[:-len(read.comment)] if read.raw.endswith(read.comment) else b""
    if not signing.verifies_comment(key, signed, read.comment):
        raise BundleRefused(f"{path}: the signature does not verify with the public key "
                            f"{public_key} (key {signing.key_id(key)}): tampered, or "
                            "signed with another key")
    return signing.key_id(key)


@contextmanager
def opened(path: Path, public_key: Path | None = None) -> Iterator[tuple[Plan, Verified]]:
    """The bundle's compiled plan, once every check passed, and what was verified.
    The files live in a temporary folder for the duration of the block."""
    read = _read_zip(path)
    contents = read.contents
    manifest = _manifest_of(contents, path)
    _check_files(contents, manifest, path)
    try:
        signed_by = _check_signature(read, public_key, path)
    except signing.BadKey as err:
        raise BundleRefused(f"the public key cannot be used: {err}") from err
    with tempfile.TemporaryDirectory(prefix="loyaltyrules-bundle-") as tmp:
        root = Path(tmp)
        for name, data in contents.items():
            if name.startswith(FILES):
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        folder = root / FILES.rstrip("/")
        plan = _plan(folder, path)
        if plan.bundle != manifest.get("bundle"):
            raise BundleRefused(f"{path}: its content hash is {plan.bundle}, the manifest "
                                f"says {manifest.get('bundle')} (tampered)")
        yield plan, Verified(manifest, signed_by, bool(read.comment), folder)


def _plan(folder: Path, path: Path) -> Plan:
    try:
        return compile_result(validate_paths([folder]))
    except DiagnosticError as err:
        first = err.diagnostics[0].render() if err.diagnostics else ""
        raise BundleRefused(f"{path}: its policies do not validate "
                            f"({len(err.diagnostics)} problems; first: {first})") from err


def load_plan(path: Path, public_key: Path | None = None) -> Plan:
    """The bundle's plan (the files are no longer needed once it is compiled)."""
    with opened(path, public_key) as (plan, _verified):
        return plan
