"""loyaltyrules: a retail franchise's customer-retention playbook as code."""

__version__ = "0.1.0"

from .api import Engine, EventError

__all__ = ["Engine", "EventError", "__version__"]
