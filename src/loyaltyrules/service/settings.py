"""What a service instance is configured with (the `serve` command fills it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # plain data, importable without the extra: no import at run time
    from ..state import StateStore

from ..config import Config

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 64 * 1024
DEFAULT_RELOAD_INTERVAL = 2.0
# WAL + synchronous=NORMAL: a commit survives kill -9 of the service; only an OS crash
# or power loss can drop the last ones, which the nightly run then recomputes
# (docs/service.md, "Durability"). FULL puts an fsync on every receipt's path.
DEFAULT_SYNC = "normal"


@dataclass(frozen=True)
class ServiceSettings:
    policies: tuple[Path, ...]
    state: StateStore | None = None
    token: str | None = None  # when set, every endpoint but health needs it
    max_body: int = DEFAULT_MAX_BODY  # bytes
    reload_interval: float = DEFAULT_RELOAD_INTERVAL  # seconds; 0 turns reloading off
    sync: str = DEFAULT_SYNC  # how commits reach the disk (ledger.SYNC_MODES)
    data: Path | Config | None = None  # the work page's names and locales (None: ids)
    enrich: bool = False  # customers' names and contact details on the work page
    bundle: Path | None = None  # a policy bundle, watched and verified instead of files
    public_key: Path | None = None  # with it, only bundles signed by its key load
    backend: str = "native"  # which per-event evaluator decides (event/backends.py)
