"""Scoring: exact MaxSim and dense scores, chunk-size independence, tie rules, padding, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from jinavdr.engine.scoring import ScoringStats, Tiling, rank, score_topk, scoring_settings
from jinavdr.engine.trec import read_run, write_run
from jinavdr.errors import UnknownNameError
from jinavdr.models.embeddings import Embeddings
from jinavdr.models.ranking import Run, trec_tie_order

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def ragged(lengths: list[int], dim: int, seed: int) -> Embeddings:
    gen = torch.Generator().manual_seed(seed)
    return Embeddings.from_list([torch.randn(n, dim, generator=gen) for n in lengths])


def brute_maxsim(q: Embeddings, p: Embeddings) -> torch.Tensor:
    """Reference: one query and one page at a time, in float64."""
    out = torch.empty(len(q), len(p), dtype=torch.float64)
    for i in range(len(q)):
        for j in range(len(p)):
            out[i, j] = (q.item(i).double() @ p.item(j).double().T).amax(dim=1).sum()
    return out


def reference_topk(scores: torch.Tensor, k: int, prio: np.ndarray | None = None) -> np.ndarray:
    """Rank by score descending, then tie priority ascending (default page index)."""
    n = scores.shape[1]
    prio = np.arange(n) if prio is None else prio
    out = [np.lexsort((prio, -row))[:k] for row in scores.numpy()]
    return np.asarray(out, dtype=np.int64).reshape(scores.shape[0], min(k, n))


@pytest.fixture(scope="module")
def multi() -> tuple[Embeddings, Embeddings]:
    gen = torch.Generator().manual_seed(1)
    q_len = torch.randint(1, 9, (23,), generator=gen).tolist()
    p_len = torch.randint(1, 40, (61,), generator=gen).tolist()
    return ragged(q_len, 16, 2), ragged(p_len, 16, 3)


@pytest.fixture(scope="module")
def dense() -> tuple[Embeddings, Embeddings]:
    gen = torch.Generator().manual_seed(4)
    return Embeddings(torch.randn(29, 32, generator=gen)), Embeddings(torch.randn(71, 32, generator=gen))


@pytest.mark.parametrize("device", DEVICES)
def test_maxsim_matches_brute_force(multi, device):
    q, p = multi
    ref = brute_maxsim(q, p)
    idx, scores = score_topk(q, p, similarity="maxsim", k=10, device=device)
    assert idx.shape == (23, 10) and idx.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(idx, reference_topk(ref, 10))
    np.testing.assert_allclose(scores, np.take_along_axis(ref.numpy(), idx, 1), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("device", DEVICES)
def test_dense_matches_reference(dense, similarity, device):
    q, p = dense
    qd, pd = q.data.double(), p.data.double()
    if similarity == "cosine":
        qd, pd = qd / qd.norm(dim=1, keepdim=True), pd / pd.norm(dim=1, keepdim=True)
    ref = qd @ pd.T
    idx, scores = score_topk(q, p, similarity=similarity, k=7, device=device)
    np.testing.assert_array_equal(idx, reference_topk(ref, 7))
    np.testing.assert_allclose(scores, np.take_along_axis(ref.numpy(), idx, 1), rtol=1e-6, atol=1e-5)


CHUNKS = [(1, 1), (1, 5), (2, 3), (3, 7), (5, 2), (7, 64), (64, 1), (1000, 1000), (None, None)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("tiling", [Tiling(1, 1), Tiling(2, 3), Tiling(4, 5), None])
@pytest.mark.parametrize("similarity", ["maxsim", "dot", "cosine"])
def test_chunk_sizes_never_change_indices_or_scores(multi, dense, similarity, tiling, device):
    q, p = multi if similarity == "maxsim" else dense
    first = score_topk(q, p, similarity=similarity, k=9, tiling=tiling, device=device)
    for query_chunk, page_chunk in CHUNKS:
        idx, scores = score_topk(
            q, p, similarity=similarity, k=9, tiling=tiling, device=device,
            query_chunk=query_chunk, page_chunk=page_chunk,
        )  # fmt: skip
        np.testing.assert_array_equal(idx, first[0])
        assert scores.tobytes() == first[1].tobytes()  # bit-identical, not merely close


def integer_pages() -> tuple[Embeddings, Embeddings]:
    """Small integer vectors: every product is exact, so equal scores are exact ties."""
    q = Embeddings(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    p = Embeddings(torch.tensor([[1, 0], [0, 1], [1, 0], [1, 1], [0, 1], [1, 0], [0, 0], [1, 1]], dtype=torch.float32))
    return q, p


@pytest.mark.parametrize("device", DEVICES)
def test_ties_break_by_page_index_for_every_chunking(device):
    q, p = integer_pages()
    # query 0 = (1, 0): scores 1,0,1,1,0,1,0,1 -> pages 0,2,3,5,7 tie at 1 (index order), then 1,4,6
    want0 = [0, 2, 3, 5, 7, 1, 4, 6]
    # query 2 = (1, 1): scores 1,1,1,2,1,1,0,2 -> 3,7 then 0,1,2,4,5 then 6
    want2 = [3, 7, 0, 1, 2, 4, 5, 6]
    for tiling in (Tiling(1, 1), Tiling(2, 3), None):
        for page_chunk in (1, 2, 3, 8):
            idx, scores = score_topk(
                q, p, similarity="dot", k=None, tiling=tiling, page_chunk=page_chunk, device=device
            )
            assert idx[0].tolist() == want0 and idx[2].tolist() == want2
            assert scores[2].tolist() == [2, 2, 1, 1, 1, 1, 1, 0]
            # a cut inside a tie group keeps the lowest page indices
            top3, _ = score_topk(q, p, similarity="dot", k=3, tiling=tiling, page_chunk=page_chunk, device=device)
            assert top3[0].tolist() == [0, 2, 3] and top3[2].tolist() == [3, 7, 0]


def test_custom_tie_order_and_negative_zero():
    q = Embeddings(torch.tensor([[1.0, 0.0]]))
    p = Embeddings(torch.tensor([[0.0, 1.0], [-0.0, 5.0], [0.0, 2.0], [-1.0, 0.0]]))
    # scores: 0, -0 (== 0), 0, -1; tie order prefers page 2, then 1, then 0
    idx, scores = score_topk(q, p, similarity="dot", k=None, tie_order=[2, 1, 0, 3], tiling=Tiling(1, 1))
    assert idx.tolist() == [[2, 1, 0, 3]]
    assert scores.tolist() == [[0.0, 0.0, 0.0, -1.0]]


def test_rank_breaks_ties_like_trec_eval():
    q, p = integer_pages()
    doc_ids = ["d1", "d10", "d2", "d9", "d3", "d11", "d0", "a"]
    full = rank(["q0", "q1", "q2"], doc_ids, q, p, similarity="dot", k=None, tiling=Tiling(2, 3))
    # query 0 ties at 1: d1, d2, d9, d11, a -> doc id descending: d9, d2, d11, d1, a
    assert [d for d, _ in full.ranking(0)][:5] == ["d9", "d2", "d11", "d1", "a"]
    # the full ranking equals trec_eval's order of the full score dict
    assert Run.from_dict(full.to_dict()).to_dict() == full.to_dict()
    for qi in range(3):
        expected = sorted(full.ranking(qi), key=lambda it: (it[1], it[0]), reverse=True)
        assert full.ranking(qi) == expected
    # a top-k run is the head of the full ranking, ties included
    for k in (1, 2, 3, 4, 6):
        top = rank(["q0", "q1", "q2"], doc_ids, q, p, similarity="dot", k=k, page_chunk=1, tiling=Tiling(1, 1))
        assert all(top.ranking(i) == full.ranking(i)[:k] for i in range(3))


def test_trec_tie_order_is_descending_string_order():
    assert trec_tie_order(["d1", "d10", "d9", "a"]).tolist() == [2, 1, 0, 3]


@pytest.mark.parametrize("device", DEVICES)
def test_padding_never_wins_with_negative_similarities(device):
    # every query token has negative similarity with every page token; pages of very different
    # lengths share one block, so short pages are padded; a zero pad would win the max with 0
    q = Embeddings.from_list([torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])])
    short = torch.tensor([[-3.0, -3.0]])
    long = torch.tensor([[-1.0, -1.0]] + [[-4.0, -4.0]] * 6)
    p = Embeddings.from_list([short, long, short * 2])
    expected = torch.tensor([[-3.0, -1.0, -6.0], [-3.0 - 3.0 - 6.0, -1.0 - 1.0 - 2.0, -6.0 - 6.0 - 12.0]])
    for tiling in (Tiling(1, 1), Tiling(2, 3), None):
        idx, scores = score_topk(q, p, similarity="maxsim", k=None, tiling=tiling, device=device)
        assert idx.tolist() == [[1, 0, 2], [1, 0, 2]]
        np.testing.assert_array_equal(scores, np.take_along_axis(expected.numpy(), idx, 1))


def test_low_precision_inputs_are_scored_in_fp32(multi):
    q, p = multi
    q16 = Embeddings(q.data.to(torch.bfloat16), q.offsets)
    p16 = Embeddings(p.data.to(torch.bfloat16), p.offsets)
    upcast = (Embeddings(q16.data.float(), q.offsets), Embeddings(p16.data.float(), p.offsets))
    got = score_topk(q16, p16, similarity="maxsim", k=5)
    want = score_topk(*upcast, similarity="maxsim", k=5)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1].tobytes() == want[1].tobytes()


def test_k_larger_than_corpus_and_empty_inputs(dense, multi):
    q, p = dense
    idx, scores = score_topk(q, p, similarity="dot", k=1000)
    assert idx.shape == (29, 71) and sorted(idx[0].tolist()) == list(range(71))
    assert (np.diff(scores, axis=1) <= 0).all()
    empty = Embeddings(torch.empty(0, 32))
    assert score_topk(empty, p, similarity="dot")[0].shape == (0, 71)
    assert score_topk(q, empty, similarity="dot", k=None)[0].shape == (29, 0)
    mq, _ = multi
    assert score_topk(mq, Embeddings.from_list([], dim=16), similarity="maxsim")[1].shape == (23, 0)


def test_bad_inputs_give_clear_errors(dense, multi):
    q, p = dense
    mq, mp = multi
    with pytest.raises(UnknownNameError, match="unknown similarity 'maxim'. Did you mean: maxsim"):
        score_topk(q, p, similarity="maxim")
    with pytest.raises(ValueError, match="similarity 'maxsim' needs multi-vector \\(ragged\\) query embeddings"):
        score_topk(q, p, similarity="maxsim")
    with pytest.raises(ValueError, match="similarity 'dot' needs dense \\[N, D\\] query embeddings"):
        score_topk(mq, mp, similarity="dot")
    with pytest.raises(ValueError, match="query dimension 32 differs from page dimension 8"):
        score_topk(q, Embeddings(torch.ones(3, 8)), similarity="dot")
    with pytest.raises(ValueError, match="k must be >= 1"):
        score_topk(q, p, similarity="dot", k=0)
    holed = Embeddings(torch.ones(2, 16), torch.tensor([0, 2, 2]))  # page 1 has zero tokens
    with pytest.raises(ValueError, match="page 1 has no token vectors"):
        score_topk(mq, holed, similarity="maxsim")
    nan = q.data.clone()
    nan[3, 0] = float("nan")
    with pytest.raises(ValueError, match="similarity score of query 3 is NaN"):
        score_topk(Embeddings(nan), p, similarity="dot", tiling=Tiling(2, 2), query_chunk=2)
    with pytest.raises(ValueError, match="tie_order must be a permutation of 0..70"):
        score_topk(q, p, similarity="dot", tie_order=[0] * 71)
    with pytest.raises(ValueError, match="doc ids must be unique"):
        rank([str(i) for i in range(29)], ["x"] * 71, q, p, similarity="dot")
    with pytest.raises(ValueError, match="28 query ids for 29 query embeddings"):
        rank([str(i) for i in range(28)], [str(i) for i in range(71)], q, p, similarity="dot")


def test_memory_is_bounded_by_the_chunk(multi):
    q, p = multi
    stats = ScoringStats()
    score_topk(q, p, similarity="maxsim", k=5, tiling=Tiling(4, 5), query_chunk=8, page_chunk=10, stats=stats)
    q_len, p_len = q.lengths(), p.lengths()
    # the largest temporary is one block pair's token similarities or one chunk's page tokens,
    # far below the queries x pages x tokens tensor a naive scorer builds
    max_q_tokens = max(int(q_len[i : i + 4].sum()) for i in range(0, len(q), 4))
    max_block_page_tokens = 5 * int(p_len.max())
    bound = 4 * max(max_q_tokens * max_block_page_tokens, 10 * int(p_len.max()) * 16, 23 * (5 + 10))
    assert 0 < stats.largest_temporary_bytes <= bound
    assert stats.useful_macs == int(q_len.sum()) * int(p_len.sum()) * 16
    assert stats.performed_macs >= stats.useful_macs
    assert stats.tiles == -(-23 // 4) * -(-61 // 5)


def test_run_round_trips_and_writes_trec(tmp_path):
    results = {"q1": {"b": 0.5, "a": 0.5, "c": 0.9}, "q2": {"c": -1.0}}
    run = Run.from_dict(results)
    assert run.doc_ids == ["a", "b", "c"] and run.depth == 3
    assert run.ranking(0) == [("c", pytest.approx(0.9)), ("b", 0.5), ("a", 0.5)]
    assert run.indices[1].tolist() == [2, -1, -1]
    assert run.to_dict() == {"q1": {"c": np.float32(0.9), "b": 0.5, "a": 0.5}, "q2": {"c": -1.0}}
    assert Run.from_dict(results, k=1).to_dict() == {"q1": {"c": np.float32(0.9)}, "q2": {"c": -1.0}}
    path = write_run(tmp_path / "runs" / "run.trec", run, "t")  # the one TREC writer
    assert path.read_text().splitlines() == [
        "q1 Q0 c 1 0.899999976 t",  # float32(0.9) with 9 significant digits
        "q1 Q0 b 2 0.5 t",
        "q1 Q0 a 3 0.5 t",
        "q2 Q0 c 1 -1 t",
    ]
    assert read_run(path) == {"q1": {"c": pytest.approx(0.9), "b": 0.5, "a": 0.5}, "q2": {"c": -1.0}}
    with pytest.raises(ValueError, match="run has 1 rows but 2 query ids"):
        Run(["a", "b"], ["x"], np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=np.float32))


def test_scoring_settings_name_what_moves_the_last_bit():
    settings = scoring_settings("maxsim", "cpu")
    assert settings["similarity"] == "maxsim" and settings["scoring_device"] == "cpu"
    assert settings["tiling"] == {"query_block": 64, "page_block": 2}
    assert scoring_settings("dot", "cpu", Tiling(3, 4))["tiling"] == {"query_block": 3, "page_block": 4}


def test_deep_top_k_of_1000_over_a_larger_corpus():
    gen = torch.Generator().manual_seed(7)
    q = Embeddings(torch.randint(-3, 4, (3, 4), generator=gen).float())  # integer: many exact ties
    p = Embeddings(torch.randint(-3, 4, (1500, 4), generator=gen).float())
    idx, scores = score_topk(q, p, similarity="dot", k=1000, page_chunk=300)
    assert idx.shape == (3, 1000)
    np.testing.assert_array_equal(idx, reference_topk(q.data @ p.data.T, 1000))
    np.testing.assert_array_equal(scores, np.take_along_axis((q.data @ p.data.T).numpy(), idx, 1))


def test_special_float_scores_keep_their_exact_value_and_order():
    # the streaming top-k packs each score into an integer key and unpacks it: values must survive
    q = Embeddings(torch.tensor([[1.0]]))
    values = np.array([np.inf, -np.inf, 1e-45, -1e-45, -3.0, 0.0, 3.4e38, -1.5], dtype=np.float32).tolist()
    p = Embeddings(torch.tensor(values).unsqueeze(1))
    for k, page_chunk in ((None, None), (3, 2), (5, 1)):
        idx, scores = score_topk(q, p, similarity="dot", k=k, page_chunk=page_chunk, tiling=Tiling(1, 2))
        want = sorted(values, reverse=True)[: len(values) if k is None else k]
        assert scores[0].tolist() == want
        assert idx[0].tolist() == [values.index(v) for v in want]
        assert scores.tobytes() == np.array([want], dtype=np.float32).tobytes()  # denormals kept bit for bit


@pytest.mark.parametrize("device", DEVICES)
def test_many_query_rows_with_ties_straddling_the_cut_match_the_reference(device):
    # more queries than one host-side selection step (64 rows), integer scores: ties at the cut
    gen = torch.Generator().manual_seed(11)
    q = Embeddings(torch.randint(-2, 3, (150, 3), generator=gen).float())
    p = Embeddings(torch.randint(-2, 3, (90, 3), generator=gen).float())
    full = q.data @ p.data.T
    prio = np.random.default_rng(0).permutation(90)
    for tiling, page_chunk in ((None, None), (None, 20), (Tiling(64, 16), 30)):
        idx, scores = score_topk(
            q, p, similarity="dot", k=12, tie_order=prio, tiling=tiling, page_chunk=page_chunk, device=device
        )
        np.testing.assert_array_equal(idx, reference_topk(full, 12, prio))
        np.testing.assert_array_equal(scores, np.take_along_axis(full.numpy(), idx, 1))


def _reference_kernel(q_tokens: torch.Tensor, p_tokens: torch.Tensor, p_offsets: torch.Tensor) -> torch.Tensor:
    """What the fused kernel computes, per page in fp32 (its products of bf16 numbers are exact)."""
    bounds = p_offsets.tolist()
    return torch.stack([(q_tokens.float() @ p_tokens[a:b].float().T).amax(1) for a, b in zip(bounds, bounds[1:], strict=False)], 1)


@pytest.fixture
def bf16_kernel(monkeypatch):
    """The bf16 MaxSim branch on the CPU: the kernel replaced by its reference, 'available' everywhere."""
    from jinavdr.engine import maxsim_kernel

    calls = []

    def fake(q_tokens, p_tokens, p_offsets, longest=None):
        assert q_tokens.dtype == p_tokens.dtype == torch.bfloat16
        calls.append(len(p_offsets) - 1)
        return _reference_kernel(q_tokens, p_tokens, p_offsets)

    monkeypatch.setattr(maxsim_kernel, "available", lambda device: True)
    monkeypatch.setattr(maxsim_kernel, "best_page_token", fake)
    return calls


@pytest.mark.parametrize("chunks", [(None, None), (1, 1), (3, 5), (7, 2)])
def test_bf16_maxsim_branch_is_chunk_independent_and_matches_fp32(multi, bf16_kernel, chunks):
    q, p = multi
    qb = Embeddings(q.data.to(torch.bfloat16).float(), q.offsets)  # bf16 numbers held in fp32
    pb = Embeddings(p.data.to(torch.bfloat16).float(), p.offsets)
    stats = ScoringStats()
    idx, scores = score_topk(qb, pb, similarity="maxsim", k=None, query_chunk=chunks[0], page_chunk=chunks[1],
                             tiling=Tiling(4, 5), stats=stats)
    assert stats.precision == "bf16" and bf16_kernel
    ref_idx, ref_scores = score_topk(qb, pb, similarity="maxsim", k=None, tiling=Tiling(4, 5))
    brute = brute_maxsim(qb, pb).numpy()
    np.testing.assert_allclose(scores, np.take_along_axis(brute, idx, 1), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(np.sort(scores, 1), np.sort(np.take_along_axis(brute, ref_idx, 1), 1), rtol=1e-6, atol=1e-5)
    base_idx, base_scores = score_topk(qb, pb, similarity="maxsim", k=None, tiling=Tiling(4, 5), page_chunk=3)
    np.testing.assert_array_equal(idx, base_idx)
    assert scores.tobytes() == base_scores.tobytes()


def test_fp32_values_that_are_not_bf16_numbers_stay_on_the_fp32_path(multi, bf16_kernel):
    q, p = multi
    stats = ScoringStats()
    score_topk(q, p, similarity="maxsim", k=3, stats=stats)
    assert stats.precision == "fp32" and not bf16_kernel


_INTERPRETED_KERNEL = r"""
import torch
from jinavdr.engine import maxsim_kernel as mk
gen = torch.Generator().manual_seed(0)
q = torch.randn(70, 128, generator=gen)
lens = [5, 130, 1, 64, 400, 128, 129]  # one token to several tiles, tile edges on both sides
p = torch.randn(sum(lens), 128, generator=gen)
offsets = torch.tensor([0] + torch.tensor(lens).cumsum(0).tolist())
out = torch.empty(70, len(lens))
mk._kernel()[(2, len(lens))](q, p, offsets, out, 70, len(lens), D=128, BM=mk.BLOCK_M, BN=mk.BLOCK_N)
want = torch.stack([(q @ p[a:b].T).amax(1) for a, b in zip(offsets.tolist(), offsets.tolist()[1:])], 1)
print((out - want).abs().max().item())
"""


def test_maxsim_kernel_runs_each_pages_own_tiles_in_the_triton_interpreter():
    """The bf16 kernel's logic on the CPU (Triton's interpreter, fp32 inputs: it has no bf16): pages of
    1 to 400 tokens next to each other, each scanning only its own tiles, give the exact maxima."""
    import importlib.util
    import os
    import subprocess

    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed (it comes with CUDA builds of torch)")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run([sys.executable, "-c", _INTERPRETED_KERNEL], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-4
