"""A ranking: the top-k pages per query, the data type every scorer, searcher and metric shares.

:class:`Run` is what :func:`jinavdr.engine.scoring.rank` and every :class:`~jinavdr.models.base.Searcher`
return and what the evaluation layer scores. :func:`trec_tie_order` is trec_eval's tie rule (doc id
descending), the one tie order used wherever rankings are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Run:
    """Top-k ranking per query: ``indices[q, r]`` is a row of ``doc_ids`` (-1 = no result)."""

    query_ids: list[str]
    doc_ids: list[str]
    indices: np.ndarray  # int64 [Q, k]
    scores: np.ndarray  # float32 [Q, k], descending per row

    def __post_init__(self) -> None:
        if self.indices.ndim != 2 or self.indices.shape != self.scores.shape:
            raise ValueError(
                f"run indices {self.indices.shape} and scores {self.scores.shape} must be 2-D and equal"
            )
        if self.indices.shape[0] != len(self.query_ids):
            raise ValueError(f"run has {self.indices.shape[0]} rows but {len(self.query_ids)} query ids")

    @property
    def depth(self) -> int:
        """Ranked results kept per query (the ``k`` of the top-k)."""
        return int(self.indices.shape[1])

    def __len__(self) -> int:
        return len(self.query_ids)

    def ranking(self, qi: int) -> list[tuple[str, float]]:
        """The ``(doc_id, score)`` list of query row ``qi``, in rank order."""
        return [
            (self.doc_ids[int(i)], float(s)) for i, s in zip(self.indices[qi], self.scores[qi], strict=True) if i >= 0
        ]

    def to_dict(self) -> dict[str, dict[str, float]]:
        """The ``{query_id: {doc_id: score}}`` mapping pytrec_eval expects (top-k only)."""
        out: dict[str, dict[str, float]] = {}
        for qi, qid in enumerate(self.query_ids):
            row: dict[str, float] = {}
            for idx, s in zip(self.indices[qi], self.scores[qi], strict=True):
                if idx >= 0:
                    row[self.doc_ids[int(idx)]] = float(s)
            out[qid] = row
        return out

    @staticmethod
    def from_dict(results: dict[str, dict[str, float]], *, k: int | None = None) -> Run:
        """A run from ``{query_id: {doc_id: score}}``, each row in trec_eval order, cut to ``k``."""
        query_ids = list(results)
        doc_ids = sorted({d for row in results.values() for d in row})
        position = {d: i for i, d in enumerate(doc_ids)}
        depth = max((len(row) for row in results.values()), default=0)
        depth = depth if k is None else min(k, depth)
        indices = np.full((len(query_ids), depth), -1, dtype=np.int64)
        scores = np.zeros((len(query_ids), depth), dtype=np.float32)
        for qi, qid in enumerate(query_ids):
            ranked = sorted(results[qid].items(), key=lambda it: (it[1], it[0]), reverse=True)[:depth]
            for r, (doc, score) in enumerate(ranked):
                indices[qi, r] = position[doc]
                scores[qi, r] = score
        return Run(query_ids, doc_ids, indices, scores)


def trec_tie_order(doc_ids: Sequence[str]) -> np.ndarray:
    """Tie priority of each doc in trec_eval's order: doc id descending (0 = ranked first)."""
    order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__, reverse=True)
    prio = np.empty(len(doc_ids), dtype=np.int64)
    prio[order] = np.arange(len(doc_ids), dtype=np.int64)
    return prio
