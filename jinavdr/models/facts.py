"""Published facts about the named models, for model cards and the leaderboard's Models table.

Parameter counts (billions) and native embedding sizes as their model cards state them (for the
checkpoints the registry pins; where MTEB knows the model, tests/test_tables.py checks both against
``mteb.get_model_meta``). They move no score and are never compared; a setting that changes the vector
size (``truncate_dim``) takes precedence where it is shown. The same counts size the memory check of
``jinavdr models``. Unknown models show nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["ModelFacts", "facts_for"]


@dataclass(frozen=True)
class ModelFacts:
    params_b: float  # parameters in billions; 0 for models without parameters (BM25)
    single_dim: int | None = None  # size of one vector per text/page
    multi_dim: int | None = None  # size of each token vector (late interaction)

    @property
    def params(self) -> str:
        """The count as shown: ``3.8B``, ``572M``; ``""`` for a model without parameters."""
        if not self.params_b:
            return ""
        if self.params_b >= 1:
            return f"{self.params_b:.1f}B"
        return f"{self.params_b * 1000:.3g}M"


_FACTS: Mapping[str, ModelFacts] = MappingProxyType(
    {
        "jina-v4": ModelFacts(3.75, single_dim=2048, multi_dim=128),
        "jina-v3": ModelFacts(0.572, single_dim=1024),
        "jina-clip-v2": ModelFacts(0.865, single_dim=1024),
        "siglip": ModelFacts(0.878, single_dim=1152),
        "dse-qwen2": ModelFacts(2.21, single_dim=1536),
        "bge-m3": ModelFacts(0.568, single_dim=1024),
        "colpali-v1.2": ModelFacts(2.92, multi_dim=128),
        "colpali-v1.3": ModelFacts(2.92, multi_dim=128),
        "colqwen2": ModelFacts(2.21, multi_dim=128),
        "colqwen2.5": ModelFacts(3.0, multi_dim=128),
        "colsmol": ModelFacts(0.256, multi_dim=128),
        "minilm": ModelFacts(0.0227, single_dim=384),
        "bm25": ModelFacts(0),
    }
)


def facts_for(adapter: str) -> ModelFacts | None:
    """The facts of a registry adapter (None for ``st:``, ``mteb:``, ``python:`` and unknown ones)."""
    return _FACTS.get(adapter)
