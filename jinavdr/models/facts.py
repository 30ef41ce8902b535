"""Published facts about the named models, for model cards and the leaderboard's Models table.

Parameter counts and native embedding sizes as their model cards state them (for the checkpoints
the registry pins). They move no score and are never compared; a setting that changes the vector
size (``truncate_dim``) takes precedence where it is shown. Unknown models show nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["ModelFacts", "facts_for"]


@dataclass(frozen=True)
class ModelFacts:
    params: str  # e.g. "3.8B"; "" for models without parameters (BM25)
    single_dim: int | None = None  # size of one vector per text/page
    multi_dim: int | None = None  # size of each token vector (late interaction)


_FACTS: Mapping[str, ModelFacts] = MappingProxyType(
    {
        "jina-v4": ModelFacts("3.8B", single_dim=2048, multi_dim=128),
        "jina-v3": ModelFacts("572M", single_dim=1024),
        "jina-clip-v2": ModelFacts("0.9B", single_dim=1024),
        "siglip": ModelFacts("878M", single_dim=1152),
        "dse-qwen2": ModelFacts("2.2B", single_dim=1536),
        "bge-m3": ModelFacts("568M", single_dim=1024),
        "colpali-v1.2": ModelFacts("2.9B", multi_dim=128),
        "colpali-v1.3": ModelFacts("2.9B", multi_dim=128),
        "colqwen2": ModelFacts("2.2B", multi_dim=128),
        "colqwen2.5": ModelFacts("3.0B", multi_dim=128),
        "colsmol": ModelFacts("256M", multi_dim=128),
        "minilm": ModelFacts("22.7M", single_dim=384),
        "bm25": ModelFacts(""),
    }
)


def facts_for(adapter: str) -> ModelFacts | None:
    """The facts of a registry adapter (None for ``st:``, ``mteb:``, ``python:`` and unknown ones)."""
    return _FACTS.get(adapter)
