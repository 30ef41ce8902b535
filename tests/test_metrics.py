"""Metrics: hand-computed goldens, trec_eval tie order, query handling, agreement with MTEB."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jinavdr.catalogue.dataset import Qrels
from jinavdr.engine.scoring import rank
from jinavdr.errors import DataError
from jinavdr.evaluation.metrics import K_VALUES, evaluate, metric_names, reciprocal_ranks, trec_order
from jinavdr.models.embeddings import Embeddings
from jinavdr.models.ranking import Run

# q1: graded judgements, c judged non-relevant; three docs tie at 0.5.
# trec_eval order: x (0.9), then the 0.5 ties by doc id DESCENDING: c, b, a; then e (0.1), d (-0.2)
#   rank: 1 x (0)  2 c (0)  3 b (1)  4 a (2)  5 e (-)  6 d (1)        relevant: a, b, d -> R = 3
QRELS = {"q1": {"a": 2, "b": 1, "c": 0, "d": 1}, "q2": {"z": 1}, "q3": {}}
RUN = {
    "q1": {"a": 0.5, "b": 0.5, "c": 0.5, "x": 0.9, "e": 0.1, "d": -0.2},
    # q2 is judged but missing from the run: it scores 0 everywhere
    "q4": {"z": 1.0},  # not judged: ignored
}
L2 = math.log2
IDCG = 2 / L2(2) + 1 / L2(3) + 1 / L2(4)  # ideal: grades 2, 1, 1 at ranks 1, 2, 3 (linear gain)
Q1 = {
    "ndcg_at_1": 0.0,
    "ndcg_at_3": (1 / L2(4)) / IDCG,  # b (grade 1) at rank 3
    "ndcg_at_5": (1 / L2(4) + 2 / L2(5)) / IDCG,  # + a (grade 2) at rank 4
    "ndcg_at_10": (1 / L2(4) + 2 / L2(5) + 1 / L2(7)) / IDCG,  # + d (grade 1) at rank 6
    "map_at_1": 0.0,
    "map_at_3": (1 / 3) / 3,  # precision at each relevant rank <= k, divided by R = 3
    "map_at_5": (1 / 3 + 2 / 4) / 3,
    "map_at_10": (1 / 3 + 2 / 4 + 3 / 6) / 3,
    "mrr_at_1": 0.0,
    "mrr_at_3": 1 / 3,  # first relevant doc at rank 3
    "mrr_at_5": 1 / 3,
    "mrr_at_10": 1 / 3,
    "recall_at_1": 0.0,
    "recall_at_3": 1 / 3,
    "recall_at_5": 2 / 3,
    "recall_at_10": 3 / 3,
    "precision_at_1": 0.0,
    "precision_at_3": 1 / 3,
    "precision_at_5": 2 / 5,
    "precision_at_10": 3 / 10,
    "hit_rate_at_1": 0.0,
    "hit_rate_at_3": 1.0,
    "hit_rate_at_5": 1.0,
    "hit_rate_at_10": 1.0,
}


def test_golden_values_with_ties_and_graded_qrels():
    ev = evaluate(RUN, Qrels(QRELS), k_values=(1, 3, 5, 10))
    assert list(ev.per_query) == ["q1", "q2"] and ev.dropped_queries == ["q3"]
    assert ev.per_query["q1"] == pytest.approx(Q1, abs=1e-12)
    assert ev.per_query["q2"] == {name: 0.0 for name in Q1}
    assert ev.metrics == pytest.approx({name: v / 2 for name, v in Q1.items()}, abs=1e-12)
    assert ev.main_score == pytest.approx(Q1["ndcg_at_5"] / 2, abs=1e-12)
    assert list(ev.metrics) == metric_names((1, 3, 5, 10))


def test_trec_order_and_mrr_use_doc_id_descending_on_ties():
    scores = {"d1": 1.0, "d10": 1.0, "d9": 1.0, "a": 2.0}
    assert trec_order(scores) == ["a", "d9", "d10", "d1"]
    assert trec_order(scores, 2) == ["a", "d9"]
    # a score-only stable sort would rank d1 second; trec_eval ranks it last
    assert reciprocal_ranks(scores, {"d1": 1}, (1, 3, 4)) == {"mrr_at_1": 0.0, "mrr_at_3": 0.0, "mrr_at_4": 0.25}


def test_run_objects_and_dicts_give_the_same_numbers():
    run = Run.from_dict(RUN)
    assert evaluate(run, QRELS).per_query == evaluate(RUN, QRELS).per_query
    assert evaluate(run, QRELS).metrics == evaluate(RUN, QRELS).metrics


def test_zero_grade_only_queries_are_kept_like_mteb():
    # MTEB drops only queries with no judgements at all; an all-zero query stays and scores 0
    ev = evaluate({"q": {"a": 1.0}, "r": {"a": 1.0}}, {"q": {"a": 1}, "r": {"a": 0}}, k_values=(1,))
    assert ev.values("ndcg_at_1") == {"q": 1.0, "r": 0.0}
    assert ev.metrics["ndcg_at_1"] == 0.5


def test_rounded_keeps_per_query_values_and_errors_are_clear():
    ev = evaluate(RUN, QRELS, k_values=(5,))
    assert ev.rounded(5).metrics["ndcg_at_5"] == round(Q1["ndcg_at_5"] / 2, 5)
    assert ev.rounded(5).per_query == ev.per_query
    with pytest.raises(KeyError, match="metric 'ndcg_at_10' was not computed"):
        ev.values("ndcg_at_10")
    with pytest.raises(DataError, match="no query has relevance judgements"):
        evaluate(RUN, {"q3": {}})
    with pytest.raises(ValueError, match="k_values must be distinct integers >= 1"):
        evaluate(RUN, QRELS, k_values=(0, 5))


def test_top_k_run_gives_the_metrics_of_the_full_ranking():
    # integer embeddings: many exact ties, some straddling the cut at k
    gen = torch.Generator().manual_seed(0)
    q = Embeddings(torch.randint(-1, 2, (40, 3), generator=gen).float())
    p = Embeddings(torch.randint(-1, 2, (60, 3), generator=gen).float())
    qids, dids = [f"q{i}" for i in range(40)], [f"doc-{i}" for i in range(60)]
    rng = random.Random(0)
    qrels = {qid: {d: rng.choice([1, 1, 2, 3]) for d in rng.sample(dids, rng.randint(1, 8))} for qid in qids}
    full = evaluate(rank(qids, dids, q, p, similarity="dot", k=None), qrels, k_values=(1, 3, 5, 10))
    top = evaluate(rank(qids, dids, q, p, similarity="dot", k=10, page_chunk=7), qrels, k_values=(1, 3, 5, 10))
    assert top.per_query == full.per_query


# --- agreement with MTEB's retrieval evaluator --------------------------------------------------

def mteb_scores(run: dict, qrels: dict, k_values: list[int]):
    """MTEB's own retrieval evaluation (skips the test when mteb is not installed)."""
    metrics = pytest.importorskip("mteb._evaluators.retrieval_metrics")
    return metrics.calculate_retrieval_scores(run, qrels, k_values)


FAMILIES = {"ndcg": "NDCG", "map": "MAP", "recall": "Recall", "precision": "P", "hit_rate": "HitRate", "mrr": "MRR"}
TREC = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P", "hit_rate": "success"}


def assert_same_as_mteb(run: dict, qrels: dict, k_values: tuple[int, ...]) -> None:
    ours = evaluate(run, qrels, k_values=k_values)
    theirs = mteb_scores(run, qrels, list(k_values))
    for qid, row in ours.per_query.items():  # per query: identical to the last bit
        for family, measure in TREC.items():
            for k in k_values:
                assert row[f"{family}_at_{k}"] == theirs.all_scores[qid][f"{measure}_{k}"]
    groups = {"ndcg": theirs.ndcg, "map": theirs.map, "recall": theirs.recall, "precision": theirs.precision}
    groups |= {"hit_rate": theirs.hit_rate, "mrr": theirs.mrr}
    for family, values in groups.items():
        for k in k_values:
            mine, other = ours.metrics[f"{family}_at_{k}"], values[f"{FAMILIES[family]}@{k}"]
            if family == "mrr":  # MTEB keeps the MRR mean unrounded
                assert mine == pytest.approx(other, abs=1e-12)
            else:  # MTEB rounds these means to 5 decimals; ours are unrounded
                assert round(mine, 5) == other and abs(mine - other) <= 5e-6 + 1e-12


def random_case(rng: random.Random) -> tuple[dict, dict]:
    docs = [f"doc{i}" for i in range(rng.randint(1, 140))]
    qrels, run = {}, {}
    palette = [-1.0, -0.0, 0.0, 0.25, 0.5, 1.0]  # frequent exact ties, negatives, -0.0
    for qi in range(rng.randint(1, 25)):
        qid = f"q{qi}"
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, min(8, len(docs))))}
        picked = rng.sample(docs, rng.randint(0, len(docs)))
        run[qid] = {d: rng.choice(palette) if rng.random() < 0.6 else rng.uniform(-3, 3) for d in picked}
    return run, qrels


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_mteb_on_random_inputs(seed):
    rng = random.Random(seed)
    run, qrels = random_case(rng)
    assert_same_as_mteb(run, qrels, K_VALUES)
    assert_same_as_mteb(run, qrels, (1, 2, 7, 1000))


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_mteb_on_scored_runs(seed):
    """Runs from the scorer (float32 scores, many exact ties), full and top-k, against MTEB."""
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    q = Embeddings(torch.randint(-2, 3, (50, 4), generator=gen).float())
    p = Embeddings(torch.randint(-2, 3, (130, 4), generator=gen).float())
    qids, dids = [f"query-{i}" for i in range(50)], [f"corpus-{i}" for i in range(130)]
    qrels = {qid: {d: rng.choice([0, 1, 2]) for d in rng.sample(dids, rng.randint(1, 12))} for qid in qids}
    full = rank(qids, dids, q, p, similarity="dot", k=None)
    assert_same_as_mteb(full.to_dict(), qrels, K_VALUES)
    ks = (1, 3, 5, 10, 20)
    theirs = mteb_scores(full.to_dict(), qrels, list(ks))
    top = evaluate(rank(qids, dids, q, p, similarity="dot", k=20, page_chunk=16), qrels, k_values=ks)
    assert {f"ndcg_at_{k}": round(top.metrics[f"ndcg_at_{k}"], 5) for k in ks} == {
        f"ndcg_at_{k}": theirs.ndcg[f"NDCG@{k}"] for k in ks
    }
    assert top.per_query == evaluate(full, qrels, k_values=ks).per_query


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f"q{i}" for i in range(6)]),
        st.tuples(
            st.dictionaries(st.sampled_from(list("abcdefgh")), st.integers(0, 3), min_size=1),
            st.dictionaries(st.sampled_from(list("abcdefghij")), st.sampled_from([-1.5, 0.0, 0.5, 2.0])),
        ),
        min_size=1,
    )
)
def test_agrees_with_mteb_hypothesis(cases):
    qrels = {qid: judged for qid, (judged, _) in cases.items()}
    run = {qid: scored for qid, (_, scored) in cases.items()}
    assert_same_as_mteb(run, qrels, (1, 3, 5, 10))


def test_float32_run_scores_reach_pytrec_unchanged():
    run = Run(["q"], ["a", "b"], np.array([[1, 0]]), np.array([[0.1, 0.1]], dtype=np.float32))
    # equal float32 scores stay tied: b ranks first by doc id descending
    assert evaluate(run, {"q": {"a": 1}}, k_values=(1, 2)).per_query["q"]["mrr_at_2"] == 0.5


def test_count_metrics_use_every_relevant_judgement():
    # q: a (grade 1) ranks 2nd; z (grade 2) is not in the run, yet counts as relevant: R = 2.
    #    n and b (grade 0) rank 1st and 3rd: judged, not relevant.
    # r: only zero grades: R = 0, so recall is 0 (trec_eval leaves it at 0)
    qrels = {"q": {"n": 0, "a": 1, "b": 0, "z": 2}, "r": {"a": 0}}
    results = {"q": {"n": 0.9, "a": 0.8, "b": 0.7, "c": 0.1}, "r": {"a": 1.0}}
    for run in (results, Run.from_dict(results)):
        ev = evaluate(run, qrels, k_values=(1, 2, 5))
        q = ev.per_query["q"]
        assert (q["precision_at_1"], q["precision_at_2"], q["precision_at_5"]) == (0.0, 0.5, 0.2)
        assert (q["recall_at_1"], q["recall_at_2"], q["recall_at_5"]) == (0.0, 0.5, 0.5)
        assert (q["hit_rate_at_1"], q["hit_rate_at_2"]) == (0.0, 1.0)
        assert (q["mrr_at_1"], q["mrr_at_2"]) == (0.0, 0.5)
        assert all(type(v) is float for v in q.values())
        assert all(v == 0.0 for v in ev.per_query["r"].values())


@pytest.mark.parametrize("seed", range(6))
def test_count_metrics_equal_pytrec_eval(seed):
    """Recall, precision and hit rate are computed without pytrec_eval: they must equal its own."""
    import pytrec_eval

    run, qrels = random_case(random.Random(seed))  # graded, zero grades, relevant docs never retrieved
    ks = (1, 2, 5, 10, 100)
    cut = ",".join(map(str, ks))
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {f"recall.{cut}", f"P.{cut}", f"success.{cut}"}).evaluate(
        {q: run.get(q, {}) for q in qrels}
    )
    for ours in (evaluate(run, qrels, k_values=ks), evaluate(Run.from_dict(run), qrels, k_values=ks)):
        assert set(ours.per_query) == set(theirs)
        for qid, row in ours.per_query.items():
            for k in ks:
                assert row[f"recall_at_{k}"] == theirs[qid][f"recall_{k}"]
                assert row[f"precision_at_{k}"] == theirs[qid][f"P_{k}"]
                assert row[f"hit_rate_at_{k}"] == theirs[qid][f"success_{k}"]


def test_unordered_run_rows_give_the_numbers_of_their_dict():
    # a Run built by hand: rows out of trec order, a missing result mid-row, ties, rows in another
    # order than the qrels, and a judged query missing from the run
    doc_ids = ["a", "b", "c", "d"]
    indices = np.array([[0, -1, 3, 1, 2], [2, 0, 1, 3, -1]])
    scores = np.array([[0.1, 0.0, 0.5, 0.5, 0.9], [0.2, 0.2, 0.7, -1.0, 0.0]], dtype=np.float32)
    run = Run(["q2", "q1"], doc_ids, indices, scores)
    qrels = {"q1": {"a": 1, "b": 2}, "q2": {"a": 1, "d": 1}, "q3": {"c": 1}}
    as_dict = {qid: {doc_ids[i]: float(s) for i, s in zip(row, sc, strict=True) if i >= 0}
               for qid, row, sc in zip(run.query_ids, indices, scores, strict=True)}
    ks = (1, 2, 3, 4)
    ours, reference = evaluate(run, qrels, k_values=ks), evaluate(as_dict, qrels, k_values=ks)
    assert ours.per_query == reference.per_query and ours.metrics == reference.metrics
    assert ours.per_query["q2"]["mrr_at_4"] == 1 / 2  # c 0.9, then d/b tie at 0.5: d first (id desc)
    assert ours.per_query["q3"] == {name: 0.0 for name in ours.per_query["q3"]}


def test_negative_grades_are_refused_with_the_offending_pair():
    from jinavdr.errors import DataError
    from jinavdr.evaluation.metrics import evaluate

    with pytest.raises(DataError, match=r"negative grade, e\.g\. query 'q2', page 'd9': -1"):
        evaluate({"q1": {"d1": 1.0}, "q2": {"d9": 0.5}}, {"q1": {"d1": 1}, "q2": {"d9": -1}})
