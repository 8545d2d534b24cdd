"""Who is who for the work page: the data source's directory (sinks/directory.py), read
when the page is first shown and again whenever the source's files change (their
fingerprint: names, sizes, times). Without a data source, customers are shown by id.
A source that cannot be read is logged by its error code only, never its content,
and the page goes on with the last good directory (or ids).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

from ..config import Config
from ..sinks.directory import Directory, directory_from
from ..sources import LoadedSource, UnusableInput, open_source, resolve_config
from ..sources.discover import discover, fingerprint

__all__ = ["People"]

log = logging.getLogger("loyaltyrules.service")


class People:
    def __init__(self, source: Path | Config | None, enrich: bool) -> None:
        self.source, self.enrich = source, enrich
        self._lock = threading.Lock()
        self._stamp: str | None = None
        self._loaded: LoadedSource | None = None  # keeps the directory's connection open
        self._directory = Directory()

    def current(self) -> Directory:
        """The directory of the source as its files are now."""
        if self.source is None:
            return self._directory
        with self._lock:
            try:
                config = resolve_config(self.source)
                stamp = fingerprint(discover(config), config)
                if stamp != self._stamp:
                    self._load(stamp)
            except UnusableInput as err:
                log.warning("work page: the data source cannot be read (%s); customers "
                            "are shown as before", err.code)
            return self._directory

    def _load(self, stamp: str) -> None:
        assert self.source is not None
        loaded = open_source(self.source, as_of_limit=dt.date.today() + dt.timedelta(days=1))
        self._directory = directory_from(loaded.connection, self.enrich)
        self._loaded, self._stamp = loaded, stamp
