"""The published model facts (parameters, vector sizes) agree with MTEB's metadata for the same checkpoints."""

from __future__ import annotations

import pytest

from jinavdr.models import registry
from jinavdr.models.facts import ModelFacts, facts_for

#: registry name -> MTEB's name for the same checkpoint
MTEB_NAMES = {
    "jina-v4": "jinaai/jina-embeddings-v4", "jina-v3": "jinaai/jina-embeddings-v3",
    "jina-clip-v2": "jinaai/jina-clip-v2", "siglip": "google/siglip-so400m-patch14-384",
    "bge-m3": "BAAI/bge-m3", "colpali-v1.2": "vidore/colpali-v1.2", "colpali-v1.3": "vidore/colpali-v1.3",
    "colqwen2": "vidore/colqwen2-v1.0", "colqwen2.5": "vidore/colqwen2.5-v0.2", "colsmol": "vidore/colSmol-256M",
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
}


def test_shown_counts_round_as_model_cards_write_them():
    assert [ModelFacts(p).params for p in (3.75, 0.572, 0.0227, 2.21, 0)] == ["3.8B", "572M", "22.7M", "2.2B", ""]


def test_every_named_model_has_facts():
    names = {e.name for e in registry.list_models()}
    missing = sorted(n for n in names if facts_for(n) is None and not n.endswith("-hf"))
    assert not missing, f"add the published parameters and vector sizes of {missing} to jinavdr/models/facts.py"


@pytest.mark.parametrize("name", sorted(MTEB_NAMES))
def test_facts_match_mteb_metadata(name: str):
    mteb = pytest.importorskip("mteb")
    meta = mteb.get_model_meta(MTEB_NAMES[name])
    facts = facts_for(name)
    # within 5%: MTEB counts jina-v4's three LoRA adapters (3.93B) where the card states the 3.75B backbone
    assert facts.params_b * 1e9 == pytest.approx(meta.n_parameters, rel=0.05)
    dims = {d for d in (facts.single_dim, facts.multi_dim) if d}
    assert meta.embed_dim in dims
