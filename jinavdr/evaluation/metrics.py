"""Retrieval metrics through pytrec_eval (trec_eval), matching MTEB's retrieval evaluator.

Metric keys: ``ndcg_at_{k}``, ``map_at_{k}``, ``recall_at_{k}``, ``precision_at_{k}``,
``mrr_at_{k}``, ``hit_rate_at_{k}``; values are fractions in [0, 1]. nDCG, MAP, recall, precision
and hit rate are trec_eval's ``ndcg_cut``, ``map_cut``, ``recall``, ``P`` and ``success``. pytrec_eval
computes nDCG and MAP (sums of floating-point terms); recall, precision and hit rate are ratios of
counts of relevant docs (grade > 0) in the top k, computed here with trec_eval's own arithmetic (one
division of two integers as doubles), so every value is the one trec_eval gives. MRR@k is computed
here too, because trec_eval's ``recip_rank`` has no cutoff. All use trec_eval's ranking order (score
descending, then doc id descending). MTEB computes the same quantities the same way.

Which queries count (see docs/scoring.md): a query whose judgement dict is empty is dropped (as MTEB
drops it); every other judged query counts, a query missing from the run scoring 0 on every metric.
Run queries without judgements are ignored.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, islice
from operator import itemgetter

import numpy as np

from jinavdr.catalogue.dataset import Qrels
from jinavdr.catalogue.tasks import MAIN_METRIC
from jinavdr.errors import DataError
from jinavdr.models.ranking import Run, trec_tie_order

K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 20, 100)
#: our metric family -> trec_eval measure name
TREC_MEASURES = {
    "ndcg": "ndcg_cut",
    "map": "map_cut",
    "recall": "recall",
    "precision": "P",
    "hit_rate": "success",
}
FAMILIES = ("ndcg", "map", "recall", "precision", "hit_rate", "mrr")
#: the families pytrec_eval computes; the others are ratios of counts, computed here
PYTREC_FAMILIES = ("ndcg", "map")


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
    cannot change any of these metrics, and pytrec_eval's cost grows with the run's size. pytrec_eval
    computes nDCG and MAP; recall, precision, hit rate and MRR come from the relevant docs' ranks.
    """
    import pytrec_eval

    k_values = _check_k_values(k_values)
    judged, dropped = _judged(qrels)
    cut = _cut_run if isinstance(run, Run) else _cut_dict
    trec_input, found = cut(run, judged, max(k_values))  # type: ignore[arg-type]

    cutoffs = ",".join(str(k) for k in k_values)
    measures = {f"{TREC_MEASURES[family]}.{cutoffs}" for family in PYTREC_FAMILIES}
    trec = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(trec_input)

    query_ids = list(trec)  # pytrec_eval's order, as MTEB averages it
    computed = _pytrec_columns(trec, k_values)
    row_of = {qid: i for i, qid in enumerate(judged)}
    order = np.array([row_of[qid] for qid in query_ids], dtype=np.int64)
    for name, values in _count_metrics(*found, _num_relevant(judged), k_values).items():
        computed[name] = values[order].tolist()
    columns = {name: computed[name] for name in metric_names(k_values)}
    means = {name: sum(values) / len(values) for name, values in columns.items()}
    return Evaluation(means, query_ids, columns, tuple(k_values), dropped)


def _pytrec_columns(trec: Mapping[str, Mapping[str, float]], k_values: Sequence[int]) -> dict[str, list[float]]:
    """pytrec_eval's per-query values (nDCG, MAP) as one list per metric, in its query order."""
    keys = [f"{TREC_MEASURES[family]}_{k}" for family in PYTREC_FAMILIES for k in k_values]
    names = [f"{family}_at_{k}" for family in PYTREC_FAMILIES for k in k_values]
    rows = map(itemgetter(*keys), trec.values())  # one tuple per query
    return dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))


# A query's ranking is cut after its last judged, non-zero-grade doc within the deepest cutoff before
# it goes to pytrec_eval: docs ranked below it change none of these metrics (P@k divides by k, recall
# and MAP by the number of relevant docs, nDCG's ideal comes from the qrels), and pytrec_eval's cost
# grows with the size of the run it is given. Both cut functions also return where the relevant docs
# (grade > 0) ranked within that depth, as two arrays: the query's position in ``judged`` and the
# 1-based rank; the count-based metrics and MRR are computed from these.


def _cut_dict(
    run: Mapping[str, Mapping[str, float]], judged: Mapping[str, Mapping[str, int]], depth: int
) -> tuple[dict[str, dict[str, float]], tuple[np.ndarray, np.ndarray]]:
    cut: dict[str, dict[str, float]] = {}
    rows: list[int] = []
    ranks: list[int] = []
    for qi, (qid, relevance) in enumerate(judged.items()):
        scored = ((str(d), float(s)) for d, s in run.get(qid, {}).items())
        top = heapq.nlargest(depth, scored, key=_trec_key)
        rank_of = {d: r for r, (d, _) in enumerate(top, start=1)}
        hits = [(rank_of[d], g) for d, g in relevance.items() if g != 0 and d in rank_of]
        cut[qid] = dict(top[: max((r for r, _ in hits), default=0)])
        relevant = [r for r, g in hits if g > 0]
        rows += [qi] * len(relevant)
        ranks += relevant
    return cut, (np.array(rows, dtype=np.int64), np.array(ranks, dtype=np.int64))


def _cut_run(
    run: Run, judged: Mapping[str, Mapping[str, int]], depth: int
) -> tuple[dict[str, dict[str, float]], tuple[np.ndarray, np.ndarray]]:
    """The same as :func:`_cut_dict`, vectorised over the run's arrays."""
    idx, sc = _trec_ordered_rows(run, judged, depth)
    position = {d: i for i, d in enumerate(run.doc_ids)}
    pairs = [  # (judged row, page, grade) of each judged, non-zero-grade doc of the corpus
        (qi, position[d], g)
        for qi, docs in enumerate(judged.values())
        for d, g in docs.items()
        if g != 0 and d in position
    ]
    pair_row, pair_page, pair_grade = np.fromiter(chain.from_iterable(pairs), dtype=np.int64).reshape(-1, 3).T
    ranks = _ranks_in_rows(idx, pair_row, pair_page)
    keep = np.zeros(len(judged), dtype=np.int64)
    np.maximum.at(keep, pair_row, ranks)
    relevant = (pair_grade > 0) & (ranks > 0)

    kept = np.arange(idx.shape[1]) < keep[:, None]  # row-major: each query's kept docs in rank order
    docs = np.array(run.doc_ids, dtype=object)[idx[kept]].tolist()
    entries = zip(docs, sc[kept].tolist(), strict=True)
    cut = {qid: dict(islice(entries, n)) for qid, n in zip(judged, keep.tolist(), strict=True)}
    return cut, (pair_row[relevant], ranks[relevant])


def _trec_ordered_rows(
    run: Run, judged: Mapping[str, Mapping[str, int]], depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Doc indices and scores of each judged query's ranking in trec_eval order, cut to ``depth``
    (rows of queries missing from the run, and missing results, are -1)."""
    row_of = {q: i for i, q in enumerate(run.query_ids)}
    rows = np.array([row_of.get(q, -1) for q in judged], dtype=np.int64)
    if not len(run):
        return np.full((len(rows), 0), -1, dtype=np.int64), np.zeros((len(rows), 0), dtype=np.float32)
    if np.array_equal(rows, np.arange(len(run))):  # the run's own rows, in order: no copy
        idx, sc = run.indices, run.scores
    else:
        idx = np.where(rows[:, None] >= 0, run.indices[rows.clip(0)], -1)
        sc = run.scores[rows.clip(0)]
    if not _in_trec_order(idx, sc, run.doc_ids):
        valid = idx >= 0
        n_docs = len(run.doc_ids)
        tie = np.where(valid, trec_tie_order(run.doc_ids)[idx.clip(0)] if n_docs else 0, n_docs)
        order = np.lexsort((tie, np.where(valid, -sc, np.inf)), axis=1)  # missing results sort last
        idx, sc = (np.take_along_axis(a, order, 1) for a in (idx, sc))
    return idx[:, :depth], sc[:, :depth]


def _in_trec_order(idx: np.ndarray, scores: np.ndarray, doc_ids: Sequence[str]) -> bool:
    """True when every row is already in trec_eval order: score descending, then doc id descending,
    missing results (-1) last."""
    valid = idx >= 0
    if not valid.all():
        if (valid[:, 1:] & ~valid[:, :-1]).any():  # a result after a missing one
            return False
        scores = np.where(valid, scores, -np.inf)
    a, b = scores[:, :-1], scores[:, 1:]
    if (a < b).any():
        return False
    tied = (a == b) & valid[:, 1:]
    with_ties = np.flatnonzero(tied.any(1))
    if not with_ties.size:
        return True
    rows, cols = np.nonzero(tied[with_ties])  # equal scores: in doc id descending order?
    rows = with_ties[rows]
    prio = trec_tie_order(doc_ids)
    return bool((prio[idx[rows, cols]] < prio[idx[rows, cols + 1]]).all())


def _ranks_in_rows(idx: np.ndarray, rows: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """1-based position of ``pages[i]`` in ``idx[rows[i]]``, 0 where absent (bounded memory)."""
    out = np.zeros(len(rows), dtype=np.int64)
    if not idx.shape[1]:
        return out
    step = max(1, (1 << 22) // max(1, idx.shape[1]))
    for s in range(0, len(rows), step):
        hit = idx[rows[s : s + step]] == pages[s : s + step, None]
        out[s : s + step] = np.where(hit.any(1), hit.argmax(1) + 1, 0)
    return out


def _num_relevant(judged: Mapping[str, Mapping[str, int]]) -> np.ndarray:
    """Per judged query, how many docs it judges relevant (grade > 0), in the corpus or not."""
    sizes = np.fromiter(map(len, judged.values()), dtype=np.int64, count=len(judged))
    grades = np.fromiter(chain.from_iterable(d.values() for d in judged.values()), dtype=np.int64)
    return np.bincount(np.repeat(np.arange(len(judged)), sizes)[grades > 0], minlength=len(judged))


def _count_metrics(
    rows: np.ndarray, ranks: np.ndarray, num_relevant: np.ndarray, k_values: Sequence[int]
) -> dict[str, np.ndarray]:
    """Recall, precision, hit rate and MRR at each cutoff, per judged query, from the ranks of the
    relevant docs retrieved (``rows[i]``: the query, ``ranks[i]``: 1-based rank). Recall, precision
    and hit rate follow trec_eval's ``recall``, ``P`` and ``success``: ``(double) hits / (double)
    relevant`` (0 when nothing is relevant), ``hits / k``, and 1 when ``hits > 0``."""
    n = len(num_relevant)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, rows, ranks)
    reciprocal = 1.0 / first
    out: dict[str, np.ndarray] = {}
    for k in k_values:
        hits = np.bincount(rows[ranks <= k], minlength=n)
        out[f"recall_at_{k}"] = np.divide(hits, num_relevant, out=np.zeros(n), where=num_relevant > 0)
        out[f"precision_at_{k}"] = hits / k
        out[f"hit_rate_at_{k}"] = (hits > 0).astype(np.float64)
        out[f"mrr_at_{k}"] = np.where(first <= k, reciprocal, 0.0)
    return out


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
    negative = [(q, d, g) for q, docs in judged.items() for d, g in docs.items() if g < 0]
    if negative:
        q, d, g = negative[0]
        raise DataError(
            f"{len(negative)} relevance judgement(s) have a negative grade, e.g. query {q!r}, page {d!r}: "
            f"{g}; trec_eval's measures are undefined for them. Map them to 0 (not relevant) in the qrels."
        )
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
