"""Tiny deterministic models and datasets for the runner, store and CLI tests (all offline, fast).

The models are loaded through the real registry as ``python:tests.run_fakes:<Class>``.
Environment switches (not settings, so a rerun has the same settings and slug):

- ``JINAVDR_FAKE_DIE_AFTER=N``: the process exits hard (``os._exit``, like kill -9) when the model
  is asked for its (N+1)-th subset;
- ``JINAVDR_FAKE_FAIL=<dataset>``: ranking a subset of that dataset raises ``RuntimeError``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jinavdr.models.embeddings import Embeddings

_CALLS = {"n": 0}


def _maybe_die_or_fail(dataset: str) -> None:
    die_after = os.environ.get("JINAVDR_FAKE_DIE_AFTER")
    if die_after is not None and _CALLS["n"] >= int(die_after):
        os._exit(137)
    _CALLS["n"] += 1
    if dataset and dataset == os.environ.get("JINAVDR_FAKE_FAIL"):
        raise RuntimeError(f"simulated failure on {dataset}")


def _words(text: str | None) -> set[str]:
    return set(re.findall(r"\w+", (text or "").lower()))


class FakeSearcher:
    """Ranks pages by word overlap with the query (ties: trec order), over the OCR text."""

    page_input = "text"

    def __init__(self, spec: Any, device: str = "cpu") -> None:
        self.spec = spec

    def settings(self) -> dict[str, Any]:
        return {**self.spec.settings(), "scorer": "word-overlap"}

    def search(self, queries: Any, corpus: Any, *, k: int) -> Any:
        from jinavdr.models.ranking import Run

        _maybe_die_or_fail(corpus.dataset)
        docs = [_words(t) for t in corpus.texts]
        run = {
            qid: {corpus.ids[j]: float(len(_words(text) & d)) for j, d in enumerate(docs)}
            for qid, text in zip(queries.ids, queries.texts, strict=True)
        }
        return Run.from_dict(run, k=k)


class FakeEncoder:
    """Hashed bag-of-words vectors over the OCR text, cosine similarity; counts its calls."""

    similarity = "cosine"
    page_input = "text"
    dim = 32
    calls: dict[str, int] = {"queries": 0, "pages": 0}

    def __init__(self, spec: Any, device: str = "cpu") -> None:
        self.spec = spec

    def settings(self) -> dict[str, Any]:
        return {**self.spec.settings(), "dim": self.dim}

    def _embed(self, texts: Sequence[str]) -> Embeddings:
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for w in _words(text):
                out[i, sum(map(ord, w)) % self.dim] += 1.0
            out[i, 0] += 0.01  # never all-zero
        return Embeddings(torch.nn.functional.normalize(out, dim=1))

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
        FakeEncoder.calls["queries"] += len(texts)
        return self._embed(texts)

    def encode_pages(self, pages: Sequence[Any], *, batch_size: int) -> Embeddings:
        FakeEncoder.calls["pages"] += len(pages)
        if pages:
            _maybe_die_or_fail(os.environ.get("JINAVDR_FAKE_DATASET_OF_PAGES", ""))
        return self._embed([p.text or "" for p in pages])


# ---------------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------------

_TOPICS = ["revenue table", "rainfall chart", "train timetable", "menu prices", "election map",
           "invoice total", "recipe steps", "stock ticker"]


def write_beir_subset(folder: Path, *, seed: int, n_pages: int = 12, n_queries: int = 8) -> None:
    """One subset in the Hub BEIR layout: queries/, corpus/ (with tiny images and OCR text), qrels/."""
    import datasets
    from PIL import Image

    rng = np.random.default_rng(seed)
    doc_ids = [f"d{seed}-{i}" for i in range(n_pages)]
    texts = [f"{_TOPICS[(i + seed) % len(_TOPICS)]} page {i} extra{rng.integers(100)}" for i in range(n_pages)]
    images = [Image.new("RGB", (4 + i, 3), color=(i * 10 % 255, seed % 255, 7)) for i in range(n_pages)]
    q_ids = [f"q{seed}-{i}" for i in range(n_queries)]
    rel = [int(rng.integers(n_pages)) for _ in range(n_queries)]
    # half the queries name their page; the others only its topic, which two pages may share
    q_texts = [f"where is the {_TOPICS[(r + seed) % len(_TOPICS)]} page {r}" if i % 2 == 0
               else f"{_TOPICS[(r + seed) % len(_TOPICS)].split()[0]} page" for i, r in enumerate(rel)]
    for part in ("queries", "corpus", "qrels"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict({"query-id": q_ids, "query": q_texts}).to_parquet(
        str(folder / "queries" / "test-00000-of-00001.parquet"))
    datasets.Dataset.from_dict({"corpus-id": doc_ids, "image": images, "text_description": texts}).to_parquet(
        str(folder / "corpus" / "test-00000-of-00001.parquet"))
    datasets.Dataset.from_dict(
        {"query-id": q_ids, "corpus-id": [doc_ids[r] for r in rel], "score": [1] * n_queries}
    ).to_parquet(str(folder / "qrels" / "test-00000-of-00001.parquet"))


def make_dataset(root: Path, name: str, subsets: Sequence[str] = ("default",), seed: int = 0) -> Path:
    """A local task folder ``root/name`` with the given subsets (``default`` = single subset)."""
    folder = root / name
    if list(subsets) == ["default"]:
        write_beir_subset(folder, seed=seed)
    else:
        for i, sub in enumerate(subsets):
            write_beir_subset(folder / sub, seed=seed + 10 * (i + 1))
    return folder


SEARCHER = "python:tests.run_fakes:FakeSearcher"
ENCODER = "python:tests.run_fakes:FakeEncoder"
