"""Declared customer metrics: one declaration, compiled to every path.

declare.py holds the checked declarations of a policy set (what `customer.<name>`
means); sql.py compiles them to the batch's DuckDB history and contexts; fold.py to
the per-event state the point of sale advances with each receipt. The metrics file
itself is read and checked by validation/metrics.py.
"""

from __future__ import annotations

from .declare import Metric, MetricSet, Window

__all__ = ["Metric", "MetricSet", "Window"]
