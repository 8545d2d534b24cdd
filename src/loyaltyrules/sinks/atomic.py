"""Write a file whole or not at all.

The text goes to a hidden temporary file in the target's folder (same file system, so
the final rename is atomic), is flushed to disk, then `os.replace`s the target. A crash
or an exception at any point leaves the previous file as it was, and the temporary
file is removed on every error path that Python still controls.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["atomic_text_file"]


@contextlib.contextmanager
def atomic_text_file(path: str | os.PathLike[str], encoding: str = "utf-8",
                     newline: str = "\n") -> Iterator[TextIO]:
    """Yield a text file that replaces `path` when the block ends without error."""
    target = Path(path)
    # "x" mode: never clobber anything, and the umask gives the usual permissions
    # (mkstemp would leave the output readable by its owner only).
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    handle = open(temp, "x", encoding=encoding, newline=newline)  # noqa: SIM115
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _sync_folder(target.parent)


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
