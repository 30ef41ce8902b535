"""Retrieval metrics through pytrec_eval (trec_eval), matching MTEB's retrieval evaluator.

Metric keys: ``ndcg_at_{k}``, ``map_at_{k}``, ``recall_at_{k}``, ``precision_at_{k}``,
``mrr_at_{k}``, ``hit_rate_at_{k}``; values are fractions in [0, 1]. nDCG, MAP, recall, precision
and hit rate are trec_eval's ``ndcg_cut``, ``map_cut``, ``recall``, ``P`` and ``success``; MRR@k is
computed here from trec_eval's ranking order (score descending, then doc id descending), because
trec_eval's ``recip_rank`` has no cutoff. MTEB computes the same quantities the same way.

Which queries count (see docs/scoring.md): a query whose judgement dict is empty is dropped (as MTEB
drops it); every other judged query counts, a query missing from the run scoring 0 on every metric.
Run queries without judgements are ignored.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter

import numpy as np

from jinavdr.dataset import Qrels
from jinavdr.errors import DataError
from jinavdr.scoring import Run, trec_tie_order

K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 20, 100)
MAIN_METRIC = "ndcg_at_5"
#: our metric family -> trec_eval measure name
TREC_MEASURES = {
    "ndcg": "ndcg_cut",
    "map": "map_cut",
    "recall": "recall",
    "precision": "P",
    "hit_rate": "success",
}
FAMILIES = ("ndcg", "map", "recall", "precision", "hit_rate", "mrr")


def metric_names(k_values: Iterable[int] = K_VALUES) -> list[str]:
    """Every metric key computed for these cutoffs, family by family."""
    return [f"{family}_at_{k}" for family in FAMILIES for k in k_values]


@dataclass(frozen=True)
class Evaluation:
    """Mean metrics over queries, and the per-query values they average (for significance tests).

    Per-query values are stored per metric (``columns[metric][i]`` belongs to ``query_ids[i]``);
    ``per_query`` gives the same values as ``{query_id: {metric: value}}``.
    """

    metrics: dict[str, float]
    query_ids: list[str]
    columns: dict[str, list[float]]
    k_values: tuple[int, ...] = K_VALUES
    #: judged queries dropped because their judgement dict was empty
    dropped_queries: list[str] = field(default_factory=list)

    @property
    def main_score(self) -> float:
        return self.metrics[MAIN_METRIC]

    @property
    def n_queries(self) -> int:
        return len(self.query_ids)

    @cached_property
    def per_query(self) -> dict[str, dict[str, float]]:
        names = list(self.columns)
        return {
            qid: dict(zip(names, row, strict=True))
            for qid, row in zip(self.query_ids, zip(*self.columns.values(), strict=True), strict=True)
        }

    def values(self, metric: str = MAIN_METRIC) -> dict[str, float]:
        """``{query_id: value}`` of one metric."""
        if metric not in self.columns:
            raise KeyError(f"metric {metric!r} was not computed; computed: {', '.join(self.columns)}")
        return dict(zip(self.query_ids, self.columns[metric], strict=True))

    def rounded(self, digits: int) -> Evaluation:
        """The same evaluation with means rounded to ``digits`` decimals (per-query values kept)."""
        means = {name: round(value, digits) for name, value in self.metrics.items()}
        return Evaluation(means, self.query_ids, self.columns, self.k_values, self.dropped_queries)


def evaluate(
    run: Run | Mapping[str, Mapping[str, float]],
    qrels: Qrels | Mapping[str, Mapping[str, int]],
    *,
    k_values: Sequence[int] = K_VALUES,
) -> Evaluation:
    """Evaluate a run against graded judgements with trec_eval semantics (see module docstring).

    Each query's ranking is put in trec_eval order and cut after the last judged, non-zero-grade
    document within the deepest cutoff before it goes to pytrec_eval: documents ranked below that
    cannot change any of these metrics, and pytrec_eval's cost grows with the run's size.
    """
    import pytrec_eval

    k_values = _check_k_values(k_values)
    judged, dropped = _judged(qrels)
    cut = _cut_run if isinstance(run, Run) else _cut_dict
    trec_input, first_relevant = cut(run, judged, max(k_values))  # type: ignore[arg-type]

    cutoffs = ",".join(str(k) for k in k_values)
    measures = {f"{m}.{cutoffs}" for m in TREC_MEASURES.values()}
    trec = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(trec_input)

    query_ids = list(trec)  # pytrec_eval's order, as MTEB averages it
    rows = list(trec.values())
    columns: dict[str, list[float]] = {}
    for family, measure in TREC_MEASURES.items():
        for k in k_values:
            columns[f"{family}_at_{k}"] = list(map(itemgetter(f"{measure}_{k}"), rows))
    firsts = [first_relevant[qid] for qid in query_ids]
    for k in k_values:
        columns[f"mrr_at_{k}"] = [1.0 / f if 0 < f <= k else 0.0 for f in firsts]
    means = {name: sum(values) / len(values) for name, values in columns.items()}
    return Evaluation(means, query_ids, columns, tuple(k_values), dropped)


# A query's ranking is cut after its last judged, non-zero-grade doc within the deepest cutoff before
# it goes to pytrec_eval: docs ranked below it change none of these metrics (P@k divides by k, recall
# and MAP by the number of relevant docs, nDCG's ideal comes from the qrels), and pytrec_eval's cost
# grows with the size of the run it is given. Both cut functions also return the 1-based rank of each
# query's first relevant doc (grade > 0) within that depth, 0 when there is none: MRR@k needs it.


def _cut_dict(
    run: Mapping[str, Mapping[str, float]], judged: Mapping[str, Mapping[str, int]], depth: int
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    cut: dict[str, dict[str, float]] = {}
    first: dict[str, int] = {}
    for qid, relevance in judged.items():
        scored = ((str(d), float(s)) for d, s in run.get(qid, {}).items())
        top = heapq.nlargest(depth, scored, key=_trec_key)
        rank_of = {d: r for r, (d, _) in enumerate(top, start=1)}
        hits = [(rank_of[d], g) for d, g in relevance.items() if g != 0 and d in rank_of]
        cut[qid] = dict(top[: max((r for r, _ in hits), default=0)])
        first[qid] = min((r for r, g in hits if g > 0), default=0)
    return cut, first


def _cut_run(
    run: Run, judged: Mapping[str, Mapping[str, int]], depth: int
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """The same as :func:`_cut_dict`, vectorised over the run's arrays."""
    row_of = {q: i for i, q in enumerate(run.query_ids)}
    rows = np.array([row_of.get(q, -1) for q in judged], dtype=np.int64)
    idx = (
        np.where(rows[:, None] >= 0, run.indices[rows.clip(0)], -1)
        if len(run)
        else np.full((len(rows), 0), -1)
    )
    sc = run.scores[rows.clip(0)] if len(run) else np.zeros(idx.shape, dtype=np.float32)
    valid = idx >= 0
    n_docs = len(run.doc_ids)
    tie = np.where(valid, trec_tie_order(run.doc_ids)[idx.clip(0)] if n_docs else 0, n_docs)
    neg = np.where(valid, -sc, np.inf)  # missing results sort last
    if not _in_trec_order(neg, tie):
        order = np.lexsort((tie, neg), axis=1)
        idx, sc, valid = (np.take_along_axis(a, order, 1) for a in (idx, sc, valid))
    idx, sc, valid = idx[:, :depth], sc[:, :depth], valid[:, :depth]

    grades = np.zeros(idx.shape, dtype=np.int64)
    position = {d: i for i, d in enumerate(run.doc_ids)}
    pairs = [
        (qi * n_docs + position[d], g)
        for qi, docs in enumerate(judged.values())
        for d, g in docs.items()
        if g != 0 and d in position
    ]
    if pairs and idx.size:
        keys, values = (np.array(a, dtype=np.int64) for a in zip(*sorted(pairs), strict=True))
        lookup = np.arange(len(rows))[:, None] * n_docs + idx.clip(0)
        at = np.searchsorted(keys, lookup).clip(max=len(keys) - 1)
        grades = np.where(valid & (keys[at] == lookup), values[at], 0)
    nonzero, relevant = grades != 0, grades > 0
    keep = np.where(nonzero.any(1), idx.shape[1] - nonzero[:, ::-1].argmax(1), 0)
    first = np.where(relevant.any(1), relevant.argmax(1) + 1, 0)

    doc = run.doc_ids.__getitem__
    cut = {
        qid: dict(zip(map(doc, idx[i, :n].tolist()), sc[i, :n].tolist(), strict=True))
        for i, (qid, n) in enumerate(zip(judged, keep.tolist(), strict=True))
    }
    return cut, dict(zip(judged, first.tolist(), strict=True))


def _in_trec_order(neg_scores: np.ndarray, tie: np.ndarray) -> bool:
    """True when every row is already sorted by (-score, tie priority)."""
    a, b = neg_scores[:, :-1], neg_scores[:, 1:]
    return bool(((a < b) | ((a == b) & (tie[:, :-1] <= tie[:, 1:]))).all())


def trec_order(doc_scores: Mapping[str, float], depth: int | None = None) -> list[str]:
    """Doc ids in trec_eval's ranking order: score descending, then doc id descending."""
    key = _trec_key
    if depth is None:
        return [d for d, _ in sorted(doc_scores.items(), key=key, reverse=True)]
    return [d for d, _ in heapq.nlargest(depth, doc_scores.items(), key=key)]


def reciprocal_ranks(
    doc_scores: Mapping[str, float], relevance: Mapping[str, int], k_values: Sequence[int]
) -> dict[str, float]:
    """``mrr_at_{k}`` of one query: 1 / rank of the first relevant doc (grade > 0) in the top k."""
    ranked = trec_order(doc_scores, max(k_values))
    first = next((r for r, d in enumerate(ranked, start=1) if relevance.get(d, 0) > 0), None)
    return {f"mrr_at_{k}": (1.0 / first if first is not None and first <= k else 0.0) for k in k_values}


def _trec_key(item: tuple[str, float]) -> tuple[float, str]:
    return item[1], item[0]


def _judged(qrels: Qrels | Mapping[str, Mapping[str, int]]) -> tuple[dict[str, dict[str, int]], list[str]]:
    relevance = qrels.relevance if isinstance(qrels, Qrels) else qrels
    judged = {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in relevance.items() if docs}
    dropped = [str(q) for q, docs in relevance.items() if not docs]
    if not judged:
        raise DataError(
            "no query has relevance judgements, so there is nothing to evaluate; "
            "check the qrels of this subset (are they empty, or keyed by other query ids?)"
        )
    return judged, dropped


def _check_k_values(k_values: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(int(k) for k in k_values)
    if not ks or any(k < 1 for k in ks) or len(set(ks)) != len(ks):
        raise ValueError(f"k_values must be distinct integers >= 1, got {list(k_values)}")
    return ks
