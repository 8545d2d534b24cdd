"""loyaltyrules: a retail franchise's customer-retention playbook as code."""

__version__ = "0.1.0"

__all__ = ["__version__"]
