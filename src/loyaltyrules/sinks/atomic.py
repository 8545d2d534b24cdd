"""Write a file whole or not at all, alone or as one of a batch.

The text goes to a hidden temporary file in the target's folder (same file system, so
the final rename is atomic), is flushed to disk, then `os.replace`s the target. A crash
or an exception at any point leaves the previous file as it was, and the temporary
file is removed on every error path that Python still controls.

Inside `batched()`, the files written are replaced together when the block ends:
all are flushed to disk first, then renamed in the order they were written, then
each folder is synced once. Each file is still written, flushed and renamed as
above, but one disk flush covers many files (on a shared disk, a flush per small
file made writing a year of daily files take several times longer).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

__all__ = ["after_replace", "atomic_text_file", "batched"]


@dataclass
class _Batch:
    staged: list[tuple[Path, Path]] = field(default_factory=list)  # (temporary, target)
    after: list[Callable[[], None]] = field(default_factory=list)


_BATCH: ContextVar[_Batch | None] = ContextVar("atomic_batch", default=None)


@contextlib.contextmanager
def atomic_text_file(path: str | os.PathLike[str], encoding: str = "utf-8",
                     newline: str = "\n") -> Iterator[TextIO]:
    """Yield a text file that replaces `path` when the block ends without error (or,
    inside `batched()`, when the batch ends)."""
    target = Path(path)
    # "x" mode: never clobber anything, and the umask gives the usual permissions
    # (mkstemp would leave the output readable by its owner only).
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    handle = open(temp, "x", encoding=encoding, newline=newline)  # noqa: SIM115
    batch = _BATCH.get()
    try:
        with handle:
            yield handle
            if batch is None:
                handle.flush()
                os.fsync(handle.fileno())
        if batch is None:
            os.replace(temp, target)
    except BaseException:
        _remove(temp)
        raise
    if batch is None:
        _sync_folder(target.parent)
    else:
        batch.staged.append((temp, target))


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Replace every file written inside the block together, at its end.

    An error inside the block, or while flushing, removes the staged files and
    replaces none; a crash leaves only hidden temporary files behind.
    """
    batch = _Batch()
    token = _BATCH.set(batch)
    try:
        yield
    except BaseException:
        _discard(batch)
        raise
    finally:
        _BATCH.reset(token)
    _commit(batch)


def after_replace(action: Callable[[], None]) -> None:
    """Run `action` now, or inside `batched()` once the batch's files are replaced."""
    batch = _BATCH.get()
    if batch is None:
        action()
    else:
        batch.after.append(action)


def _commit(batch: _Batch) -> None:
    try:
        for temp, _target in batch.staged:
            _flush_file(temp)
    except BaseException:
        _discard(batch)
        raise
    for temp, target in batch.staged:
        os.replace(temp, target)
    for folder in dict.fromkeys(target.parent for _temp, target in batch.staged):
        _sync_folder(folder)
    for action in batch.after:
        action()


def _flush_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)  # Windows flushes only what it may write
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(batch: _Batch) -> None:
    for temp, _target in batch.staged:
        _remove(temp)


def _remove(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; folders cannot be opened this way on Windows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
