"""Input data: find a source's tables, read them with DuckDB, check every row.

`open_source` returns a `LoadedSource` whose DuckDB connection holds the clean tables
(customers, purchases, purchase_lines, stores, calendar, complaints, outcomes) and a
`rejects` table. See docs/data-sources.md.
"""

from loyaltyrules.sources import ingest
from loyaltyrules.sources.errors import UnusableInput
from loyaltyrules.sources.loader import CLEAN_TABLES, LoadedSource, open_source, resolve_config
from loyaltyrules.sources.rejects import REASONS, RejectRecord, TableCounts

__all__ = [
    "CLEAN_TABLES",
    "REASONS",
    "LoadedSource",
    "RejectRecord",
    "TableCounts",
    "UnusableInput",
    "ingest",
    "open_source",
    "resolve_config",
]
