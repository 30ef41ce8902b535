"""Protocols: beir (MTEB semantics) and paper (jina-vdr semantics, quirks included)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import pytrec_eval
import torch

from jinavdr.catalogue.dataset import Corpus, Queries
from jinavdr.engine.scoring import rank
from jinavdr.errors import UnknownNameError
from jinavdr.evaluation.metrics import evaluate
from jinavdr.evaluation.protocols import PROTOCOLS, get_protocol, merge_groups
from jinavdr.models.embeddings import Embeddings
from jinavdr.models.ranking import Run

ROWS = ["r0", "r1", "r2", "r3", "r4", "r5"]
GROUPS = ["f2", "f1", "f2", "f3", "f1", "f9"]  # image_filename of each QA row


def corpus(groups: list[str] | None = GROUPS) -> Corpus:
    return Corpus(ids=list(ROWS), load_image=lambda i: None, group_ids=groups)


def full_run(scores: list[list[float]]) -> Run:
    return Run.from_dict({f"q{i}": dict(zip(ROWS, row, strict=True)) for i, row in enumerate(scores)})


# q0 rows: f2 = max(-0.5, 0.2) = 0.2; f1 = max(0.3, 0.7) = 0.7; f3 = -0.1 -> 0; f9 = -0.9 -> 0
#   ranking: f1 0.7, f2 0.2, then the 0-ties by filename descending: f9, f3 -> relevant f9 at rank 3
#   (without the clamp f9 would be last, rank 4)
# q1 rows: f2 = max(-0.3, -0.4) -> 0; f1 = 0.5; f3 = 0.6; f9 = 0.1 -> f3, f1, f9, f2: f2 at rank 4
SCORES = [[-0.5, 0.3, 0.2, -0.1, 0.7, -0.9], [-0.3, 0.5, -0.4, 0.6, 0.2, 0.1]]
QRELS = {"q0": {"f9": 1}, "q1": {"f2": 1}}


def test_merge_groups_takes_the_max_clamps_at_zero_and_orders_ties_by_filename():
    merged = merge_groups(full_run(SCORES), GROUPS)
    assert merged.doc_ids == ["f1", "f2", "f3", "f9"]
    assert merged.ranking(0) == [("f1", pytest.approx(0.7)), ("f2", pytest.approx(0.2)), ("f9", 0.0), ("f3", 0.0)]
    assert [d for d, _ in merged.ranking(1)] == ["f3", "f1", "f9", "f2"]
    assert merged.ranking(1)[-1] == ("f2", 0.0)
    unclamped = merge_groups(full_run(SCORES), GROUPS, floor=None)
    assert unclamped.ranking(0)[2:] == [("f3", pytest.approx(-0.1)), ("f9", pytest.approx(-0.9))]


def test_paper_protocol_golden_ndcg_rounded_to_5_decimals():
    ev = get_protocol("paper").evaluate(full_run(SCORES), QRELS, corpus=corpus(), k_values=(5,))
    # nDCG@5 with one relevant doc at rank r is 1 / log2(r + 1): q0 rank 3, q1 rank 4
    assert ev.per_query["q0"]["ndcg_at_5"] == pytest.approx(1 / math.log2(4), abs=1e-12)
    assert ev.per_query["q1"]["ndcg_at_5"] == pytest.approx(1 / math.log2(5), abs=1e-12)
    assert ev.metrics["ndcg_at_5"] == 0.46534  # round((0.5 + 0.4306766) / 2, 5)


def test_paper_protocol_without_groups_still_clamps():
    run = Run.from_dict({"q": {"a": -0.2, "b": -0.1}})
    ev = get_protocol("paper").evaluate(run, {"q": {"a": 1}}, k_values=(1,))
    assert ev.metrics["ndcg_at_1"] == 0.0  # tie at 0: b ranks first by doc id descending
    assert evaluate(run, {"q": {"a": 1}}, k_values=(1,)).metrics["ndcg_at_1"] == 0.0  # b -0.1 > a -0.2
    ev_b = get_protocol("paper").evaluate(run, {"q": {"b": 1}}, k_values=(1,))
    assert ev_b.metrics["ndcg_at_1"] == 1.0


def jina_vdr_reference(scores: np.ndarray, query_ids: list[str], groups: list[str], qrels: dict) -> float:
    """jina-vdr's loop (``_get_relevant_docs_results``): the first row creates the dict with its raw
    score; every later row merges by max with a default of 0."""
    results: dict[str, dict[str, float]] = {}
    for qi, qid in enumerate(query_ids):
        for pi, filename in enumerate(groups):
            score = float(scores[qi, pi])
            if qid in results:
                results[qid][filename] = max(results[qid].get(filename, 0), score)
            else:
                results[qid] = {filename: score}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5"}).evaluate(results)
    return round(sum(v["ndcg_cut_5"] for v in per_query.values()) / len(per_query), 5)


@pytest.mark.parametrize("seed", range(5))
def test_paper_protocol_matches_the_jina_vdr_loop(seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    n_rows, n_queries = 80, 30
    files = [f"page_{i}.png" for i in range(25)]
    groups = [rng.choice(files) for _ in range(n_rows)]  # QA rows repeat pages
    q = Embeddings(torch.randn(n_queries, 8, generator=gen))
    p = Embeddings(torch.randn(n_rows, 8, generator=gen))
    qids, rows = [f"q{i}" for i in range(n_queries)], [f"row{i}" for i in range(n_rows)]
    qrels = {qid: {rng.choice(groups): 1} for qid in qids}
    protocol = get_protocol("paper")
    run = rank(qids, rows, q, p, similarity="dot", k=protocol.depth)
    ours = protocol.evaluate(run, qrels, corpus=Corpus(rows, lambda i: None, group_ids=groups))
    scores = np.empty((n_queries, n_rows), dtype=np.float32)  # the same row scores, as a matrix
    np.put_along_axis(scores, run.indices, run.scores, axis=1)
    np.testing.assert_allclose(scores, (q.data @ p.data.T).numpy(), rtol=1e-5, atol=1e-5)
    assert ours.metrics["ndcg_at_5"] == jina_vdr_reference(scores, qids, groups, qrels)


def test_beir_protocol_is_plain_evaluation():
    run = full_run(SCORES)
    qrels = {"q0": {"r5": 2, "r1": 1}, "q1": {"r2": 1}}
    protocol = get_protocol()
    assert protocol.name == "beir" and protocol.depth == 100 and protocol.round_digits is None
    assert protocol.evaluate(run, qrels, corpus=corpus()).metrics == evaluate(run, qrels).metrics
    with pytest.raises(ValueError, match="protocol 'beir' ranks 100 pages per query, too few for a cutoff of 1000"):
        protocol.evaluate(run, qrels, k_values=(5, 1000))


def test_paper_protocol_needs_the_full_ranking():
    gen = torch.Generator().manual_seed(0)
    run = rank(["q0"], ROWS, Embeddings(torch.randn(1, 4, generator=gen)), Embeddings(torch.randn(6, 4, generator=gen)),
               similarity="dot", k=3)  # fmt: skip
    with pytest.raises(ValueError, match="needs every row ranked for every query \\(run depth 3, 6 rows\\)"):
        get_protocol("paper").evaluate(run, QRELS, corpus=corpus())
    with pytest.raises(ValueError, match="5 group ids for 6 corpus rows"):
        merge_groups(full_run(SCORES), GROUPS[:5])


def test_protocol_names_and_settings():
    assert sorted(PROTOCOLS) == ["beir", "paper"]
    assert get_protocol("paper").settings() == {"protocol": "paper", "depth": None, "round_digits": 5}
    assert get_protocol("paper").k_values == (1, 3, 5, 10, 20, 50, 100)
    assert get_protocol("beir").k_values == (1, 3, 5, 10, 20, 100)
    with pytest.raises(UnknownNameError, match="unknown protocol 'bier'. Did you mean: beir\\? Valid protocols: beir, paper."):
        get_protocol("bier")


# --------------------------------------------------------------------------------------------------
# jina-vdr's quirks, to the last metric, on a constructed QA subset (values computed by hand)
# --------------------------------------------------------------------------------------------------

QA_ROWS = ["row-0", "row-1", "row-2", "row-3", "row-4"]
QA_FILES = ["z.png", "b.png", "c.png", "z.png", "d.png"]  # image_filename of each row
QA_QUERIES = Queries(["q-0", "q-1", "q-2"], ["where is z", "all tied", "d.png"])  # q-2's text is a file name
QA_QRELS = {"q-0": {"z.png": 1}, "q-1": {"b.png": 1}, "q-2": {"c.png": 1}}
QA_SCORES = [
    # q-0: z = max(-0.4, -0.5) = -0.4 stays negative (row 0's document is never floored); b, c, d -> 0.
    #      Ranking d, c, b (0-ties, doc id descending), z: relevant z at rank 4 (floored it would tie at 0
    #      and rank first)
    [-0.4, -0.2, -0.3, -0.5, -0.1],
    # q-1: every document 0.5. trec_eval order z, d, c, b: b at rank 4 for nDCG; jina-vdr's MRR keeps
    #      the corpus order z, b, c, d: b at rank 2
    [0.5, 0.5, 0.5, 0.5, 0.5],
    # q-2: d.png (0.9) is the query's own id and is dropped; c.png (0.8) then ranks first
    [0.1, 0.2, 0.8, 0.1, 0.9],
]


def qa_run() -> Run:
    return Run.from_dict({q: dict(zip(QA_ROWS, row, strict=True)) for q, row in zip(QA_QUERIES.ids, QA_SCORES, strict=True)})


def qa_evaluate(*, lexical: bool = False):
    corpus = Corpus(ids=list(QA_ROWS), load_image=lambda i: None, group_ids=QA_FILES)
    return get_protocol("paper").evaluate(qa_run(), QA_QRELS, corpus=corpus, queries=QA_QUERIES, lexical=lexical)


def test_paper_protocol_first_row_document_is_not_floored():
    merged = merge_groups(qa_run(), QA_FILES, floor_first_row=False)
    assert merged.ranking(0) == [("d.png", 0.0), ("c.png", 0.0), ("b.png", 0.0), ("z.png", pytest.approx(-0.4))]
    assert merge_groups(qa_run(), QA_FILES).ranking(0)[0] == ("z.png", 0.0)  # the floored variant
    ev = qa_evaluate()
    assert ev.per_query["q-0"]["ndcg_at_5"] == pytest.approx(1 / math.log2(5), abs=1e-12)
    assert ev.per_query["q-0"]["mrr_at_5"] == 0.25


def test_paper_protocol_mrr_ties_keep_corpus_order_ndcg_keeps_trec_order():
    ev = qa_evaluate()
    assert ev.per_query["q-1"]["ndcg_at_5"] == pytest.approx(1 / math.log2(5), abs=1e-12)  # rank 4
    assert ev.per_query["q-1"]["mrr_at_5"] == 0.5  # rank 2
    assert ev.per_query["q-1"]["mrr_at_1"] == 0.0


def test_paper_protocol_ignores_identical_ids_except_for_lexical_searchers():
    ev = qa_evaluate()
    assert ev.per_query["q-2"]["ndcg_at_1"] == 1.0 and ev.per_query["q-2"]["mrr_at_1"] == 1.0
    lexical = qa_evaluate(lexical=True)  # jina-vdr's BM25 branch keeps them
    assert lexical.per_query["q-2"]["ndcg_at_1"] == 0.0 and lexical.per_query["q-2"]["mrr_at_5"] == 0.5


def test_paper_protocol_reports_k50_rounds_all_but_mrr():
    ev = qa_evaluate()
    assert ev.k_values == (1, 3, 5, 10, 20, 50, 100)
    assert {"ndcg_at_50", "mrr_at_50", "recall_at_50", "precision_at_50"} <= set(ev.metrics)
    # nDCG@5: (1/log2(5) + 1/log2(5) + 1) / 3 = 0.6204510386..., rounded to 5 decimals
    assert ev.metrics["ndcg_at_5"] == 0.62045
    # MRR@5: (1/4 + 1/2 + 1) / 3, not rounded (jina-vdr averages MRR itself)
    assert ev.metrics["mrr_at_5"] == (0.25 + 0.5 + 1.0) / 3
    assert ev.metrics["precision_at_50"] == round(3 / 50 / 3, 5)


def test_runner_marks_lexical_searchers_for_the_protocol():
    from jinavdr.execution.runner import is_lexical
    from jinavdr.models import registry

    assert is_lexical(registry.load(registry.resolve("bm25"), device="cpu"))

    class Encoder:
        similarity, page_input = "dot", "image"

        def encode_pages(self, pages, *, batch_size): ...

        def search(self, queries, corpus, *, k): ...

    assert not is_lexical(Encoder())
