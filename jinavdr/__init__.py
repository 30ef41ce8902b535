"""jinavdr: a reproducible benchmark suite for visual document retrieval.

The package is a library first; the ``jinavdr`` command is a thin layer over it.
Importing it has no side effects (no model, dataset or torch import).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
