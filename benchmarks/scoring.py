"""Benchmark: scoring + evaluation of one subset, jinavdr's path against a naive reference.

Shapes follow jina-embeddings-v4: dense 2048-d; multi-vector 128-d tokens, about 20 per query and
about 1000 per page (ragged, drawn around those means). Queries are noisy copies of their relevant
pages, so relevant pages rank high as with a real model (the evaluation cost depends on that).

Both paths compute the same metrics (nDCG, MAP, recall, precision, MRR, hit rate at 1..100):

* ours: :func:`jinavdr.engine.scoring.rank` (blocked fp32 products, streaming exact top-100) then
  :func:`jinavdr.evaluation.metrics.evaluate` (pytrec_eval on the trec-ordered top-100);
* naive: what a straightforward harness does: scores for all pairs (dense: one einsum; MaxSim:
  colpali-style zero-padded einsum over query and page batches of 32), a Python dict of every query x
  page score, pytrec_eval on that full ranking, MRR by sorting each query's full dict.

The naive MaxSim is measured on a fraction of the queries (``--naive-fraction``) and its time scaled
to all queries (it is linear in the number of queries); the output says so. Ranking equality is
checked on the queries both paths scored.

On CUDA the multi-vector embeddings are rounded to bf16 values first (jina-embeddings-v4 outputs
bf16), so MaxSim runs the fused bf16 kernel (:mod:`jinavdr.engine.maxsim_kernel`); the output then
also gives its useful FLOP/s as a share of the measured bf16 matmul peak (``--bf16 off`` keeps fp32).

Usage: ``python benchmarks/scoring.py [--queries 1000] [--pages 1000] [--threads N] [--device cpu]``.
The last line reads ``dense_speedup=<x> maxsim_speedup=<y> maxsim_flop_efficiency=<z>`` (plus
``maxsim_bf16_peak_fraction=<f>`` when the bf16 kernel ran).
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytrec_eval
import torch

from jinavdr.engine.scoring import ScoringStats, rank
from jinavdr.evaluation.metrics import K_VALUES, TREC_MEASURES, evaluate
from jinavdr.models.embeddings import Embeddings
from jinavdr.models.ranking import Run

# --- synthetic subset -----------------------------------------------------------------------------


def make_subset(n_q: int, n_p: int, seed: int) -> dict[str, Any]:
    """Ids, graded qrels (1-3 relevant pages per query) and both kinds of embeddings."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    qids, dids = [f"query-{i}" for i in range(n_q)], [f"corpus-{i}" for i in range(n_p)]
    relevant = [rng.sample(range(n_p), rng.randint(1, 3)) for _ in range(n_q)]
    qrels = {qid: {dids[j]: rng.choice([1, 1, 2]) for j in rel} for qid, rel in zip(qids, relevant, strict=True)}

    unit = lambda x: torch.nn.functional.normalize(x, dim=-1)  # noqa: E731
    pages = unit(torch.randn(n_p, 2048, generator=gen))
    queries = unit(torch.stack([pages[rel].mean(0) for rel in relevant]) + 0.12 * torch.randn(n_q, 2048, generator=gen))

    np_rng = np.random.default_rng(seed)
    p_len = np.clip(np_rng.normal(1000, 200, n_p).round(), 200, 2000).astype(int)
    q_len = np.clip(np_rng.normal(20, 6, n_q).round(), 5, 60).astype(int)
    page_tokens = [unit(torch.randn(int(n), 128, generator=gen)) for n in p_len]
    query_tokens = []
    for rel, n in zip(relevant, q_len, strict=True):  # each token a noisy copy of a relevant page token
        src = torch.cat([page_tokens[j] for j in rel])
        pick = torch.randint(0, src.shape[0], (int(n),), generator=gen)
        query_tokens.append(unit(src[pick] + 0.23 * torch.randn(int(n), 128, generator=gen)))
    return {
        "qids": qids, "dids": dids, "qrels": qrels,
        "dense": (Embeddings(queries), Embeddings(pages)),
        "multi": (Embeddings.from_list(query_tokens), Embeddings.from_list(page_tokens)),
        "q_len": q_len, "p_len": p_len,
    }  # fmt: skip


# --- naive reference ------------------------------------------------------------------------------


def naive_dense_scores(q: Embeddings, p: Embeddings, device: str) -> torch.Tensor:
    return torch.einsum("qd,pd->qp", q.data.to(device), p.data.to(device)).cpu()


def naive_maxsim_scores(q: Embeddings, p: Embeddings, device: str, batch: int = 32) -> torch.Tensor:
    """colpali-style: zero-padded batches, einsum over all token pairs, max over page tokens, sum."""
    pad = torch.nn.utils.rnn.pad_sequence
    qs = [q.item(i).to(device) for i in range(len(q))]
    ps = [p.item(j).to(device) for j in range(len(p))]
    out = torch.empty(len(qs), len(ps), device=device)
    for i in range(0, len(qs), batch):
        qb = pad(qs[i : i + batch], batch_first=True)
        for j in range(0, len(ps), batch):
            pb = pad(ps[j : j + batch], batch_first=True)
            out[i : i + batch, j : j + batch] = torch.einsum("bnd,csd->bcns", qb, pb).amax(dim=3).sum(dim=2)
    return out.cpu()


def naive_evaluate(scores: torch.Tensor, qids: list[str], dids: list[str], qrels: dict) -> dict[str, float]:
    """Every query x page score in a dict, pytrec_eval on the full ranking, MRR by full sorts."""
    s = scores.tolist()
    results = {qid: {d: row[j] for j, d in enumerate(dids)} for qid, row in zip(qids, s, strict=True)}
    judged = {qid: qrels[qid] for qid in qids}
    cut = ",".join(map(str, K_VALUES))
    measures = {f"{m}.{cut}" for m in TREC_MEASURES.values()}
    per_query = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(results)
    means = {
        f"{family}_at_{k}": sum(v[f"{measure}_{k}"] for v in per_query.values()) / len(per_query)
        for family, measure in TREC_MEASURES.items()
        for k in K_VALUES
    }
    mrr = {k: 0.0 for k in K_VALUES}
    for qid, row in results.items():
        ranked = sorted(row.items(), key=lambda item: (item[1], item[0]), reverse=True)[: max(K_VALUES)]
        for k in K_VALUES:
            first = next((r for r, (d, _) in enumerate(ranked[:k], 1) if judged[qid].get(d, 0) > 0), None)
            mrr[k] += 1.0 / first if first else 0.0
    means.update({f"mrr_at_{k}": v / len(results) for k, v in mrr.items()})
    return means


# --- measurement helpers --------------------------------------------------------------------------


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) / 1024 for line in fh if line.startswith(field))
    except (OSError, StopIteration):
        return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux: /proc/self/clear_refs); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, seconds, and how far the process's resident memory peaked above its start (MiB).

    torch allocations are invisible to tracemalloc, so this reads the kernel's peak RSS (VmHWM)
    after resetting it; without that, the growth of ru_maxrss (a lower bound) is reported.
    """
    fresh = _reset_peak()
    before = _status_mb("VmRSS") if fresh else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    after = _status_mb("VmHWM") if fresh else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out, seconds, max(0.0, (after or 0.0) - (before or 0.0))


def bf16_peak_rate(device: str) -> float:
    """Multiply-adds per second of a large bf16 matmul (8192^3) on ``device``: the practical peak."""
    n = 8192
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    a @ b
    torch.cuda.synchronize()
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        torch.cuda.synchronize()
        best = max(best, 5 * n**3 / (time.perf_counter() - t0))
    return best


def to_bf16_values(emb: Embeddings) -> Embeddings:
    """The same embeddings rounded to bf16 numbers (kept in fp32), as a bf16 model's outputs are."""
    return Embeddings(emb.data.to(torch.bfloat16).to(torch.float32), emb.offsets)


def bare_matmul_rate(device: str, repeats: int = 5) -> float:
    """Multiply-adds per second of bare fp32 matmuls with MaxSim's inner dimension (128): the best
    rate over a few large shapes (one of them our CPU block shape), best of ``repeats`` each."""
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    best_rate = 0.0
    for m, n in ((2048, 32768), (4096, 16384), (640, 16384)):
        a, b = torch.randn(m, 128, device=device), torch.randn(128, n, device=device)
        a @ b  # warm-up
        sync()
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            sync()
            best_rate = max(best_rate, m * n * 128 / (time.perf_counter() - t0))
    return best_rate


def same_ranking(run: Run, scores: torch.Tensor, rows: range, k: int, tol: float = 1e-5) -> str:
    """Compare our top-k with the naive full scores ranked in trec_eval order: rows identical, rows
    whose order differs only where the two paths' scores are within ``tol`` (fp32 summation order),
    other rows, and the largest score difference."""
    identical, near, other, worst = 0, 0, 0, 0.0
    for qi in rows:
        row = scores[qi - rows.start].tolist()
        naive = sorted(zip(run.doc_ids, row, strict=True), key=lambda it: (it[1], it[0]), reverse=True)[:k]
        ours = run.ranking(qi)
        worst = max(worst, max(abs(a - b) for (_, a), (_, b) in zip(ours, naive, strict=True)))
        if [d for d, _ in ours] == [d for d, _ in naive]:
            identical += 1
        elif all(abs(a - b) <= tol for (_, a), (_, b) in zip(ours, naive, strict=True)):
            near += 1  # same scores at every rank: only near-equal scores swapped places
        else:
            other += 1
    return (
        f"{identical}/{len(rows)} queries identical, {near} differ only by swaps of scores within {tol:g}, "
        f"{other} otherwise; max |score diff| {worst:.2e}"
    )


# --- the benchmark --------------------------------------------------------------------------------


def bench_dense(data: dict, device: str, quiet: bool = False, repeats: int = 3) -> float:
    qids, dids, qrels = data["qids"], data["dids"], data["qrels"]
    q, p = data["dense"]
    stats = ScoringStats()
    best: dict[str, float] = {}
    for _ in range(repeats):  # best of a few: the dense paths take milliseconds
        run, t_rank, rss_rank = timed(lambda: rank(qids, dids, q, p, similarity="dot", device=device, stats=stats))
        ours, t_eval, rss_ours = timed(lambda run=run: evaluate(run, qrels))
        scores, t_naive_score, rss_naive_score = timed(lambda: naive_dense_scores(q, p, device))
        naive, t_naive_eval, rss_naive = timed(lambda s=scores: naive_evaluate(s, qids, dids, qrels))
        for name, t in (("rank", t_rank), ("eval", t_eval), ("naive_score", t_naive_score), ("naive_eval", t_naive_eval)):
            best[name] = min(best.get(name, t), t)
    t_rank, t_eval, t_naive_score, t_naive_eval = best["rank"], best["eval"], best["naive_score"], best["naive_eval"]
    check = same_ranking(run, scores, range(len(qids)), 100)
    diff = max(abs(ours.metrics[m] - naive[m]) for m in naive)
    ours_t, naive_t = t_rank + t_eval, t_naive_score + t_naive_eval
    if quiet:
        return naive_t / ours_t
    print(f"dense  (best of {repeats} runs of each path)")
    print(f"dense  ours : score+top-100 {t_rank:7.3f} s  evaluate {t_eval:6.3f} s  total {ours_t:7.3f} s")
    print(f"dense  naive: einsum        {t_naive_score:7.3f} s  dict+pytrec+mrr {t_naive_eval:6.3f} s  total {naive_t:7.3f} s")
    print(f"dense  nDCG@5 ours {ours.metrics['ndcg_at_5']:.5f} naive {naive['ndcg_at_5']:.5f}; max metric diff {diff:.1e}")
    print(f"dense  top-100 vs naive ranking: {check}")
    print(f"dense  largest temporary tensor {stats.largest_temporary_bytes / 2**20:.1f} MiB; "
          f"peak RSS above start: ours {rss_rank:.0f} MiB scoring, {rss_ours:.0f} MiB evaluation; "
          f"naive {rss_naive_score:.0f} MiB scores, {rss_naive:.0f} MiB dict+pytrec")  # fmt: skip
    return naive_t / ours_t


def bench_maxsim(data: dict, device: str, fraction: float, quiet: bool = False, bf16: bool = False
                 ) -> tuple[float, float, float | None]:
    qids, dids, qrels = data["qids"], data["dids"], data["qrels"]
    q, p = data["multi"]
    if bf16:
        q, p = to_bf16_values(q), to_bf16_values(p)
    stats = ScoringStats()
    rate_before = bare_matmul_rate(device)
    rss0 = _status_mb("VmRSS") or 0.0
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    warm = min(50, len(qids))
    rank(qids[:warm], dids, q.select(range(warm)), p, similarity="maxsim", device=device)  # compile/warm the kernel
    sync()
    run, t_rank, rss_rank = timed(lambda: rank(qids, dids, q, p, similarity="maxsim", device=device, stats=stats))
    ours, t_eval, rss_eval = timed(lambda: evaluate(run, qrels))

    n_naive = max(1, round(len(qids) * fraction))
    sub = range(n_naive)
    q_sub = q.select(list(sub))
    scores, t_naive_score, rss_naive = timed(lambda: naive_maxsim_scores(q_sub, p, device))
    _, t_naive_eval, rss_naive_eval = timed(lambda: naive_evaluate(scores, qids[:n_naive], dids, qrels))
    scale = len(qids) / n_naive
    naive_t = (t_naive_score + t_naive_eval) * scale
    check = same_ranking(run, scores, sub, 100)

    bare = stats.useful_macs / max(rate_before, bare_matmul_rate(device))  # the faster of two readings
    ours_t = t_rank + t_eval
    q_len, p_len = data["q_len"], data["p_len"]
    naive_tensor = len(qids) * len(dids) * int(q_len.max()) * int(p_len.max()) * 4
    peak_fraction = None
    if stats.precision == "bf16":
        peak = bf16_peak_rate(device)
        peak_fraction = stats.useful_macs / t_rank / peak
    if quiet:
        return naive_t / ours_t, bare / t_rank, peak_fraction
    print(f"maxsim tokens: queries {q_len.sum()} (mean {q_len.mean():.1f}, {q_len.min()}-{q_len.max()}), "
          f"pages {p_len.sum()} (mean {p_len.mean():.0f}, {p_len.min()}-{p_len.max()}), dim 128")  # fmt: skip
    print(f"maxsim ours : score+top-100 {t_rank:7.2f} s  evaluate {t_eval:6.3f} s  total {ours_t:7.2f} s  "
          f"({stats.useful_macs / t_rank / 1e9:.1f} G useful MAC/s, padding overhead "
          f"{stats.performed_macs / stats.useful_macs - 1:.1%}, tiling {stats.tiling})")  # fmt: skip
    print(f"maxsim naive: measured on {n_naive}/{len(qids)} queries, scaled x{scale:g}: einsum "
          f"{t_naive_score * scale:7.2f} s  dict+pytrec+mrr {t_naive_eval * scale:6.3f} s  total {naive_t:7.2f} s")  # fmt: skip
    print(f"maxsim nDCG@5 ours {ours.metrics['ndcg_at_5']:.5f} (all queries)")
    print(f"maxsim top-100 vs naive ranking: {check}")
    print(f"maxsim bare matmul of the same {stats.useful_macs:.3g} multiply-adds: {bare:.2f} s "
          "(best rate of bare fp32 [m,128]x[128,n] matmuls, measured before and after)")  # fmt: skip
    print(f"maxsim largest temporary tensor {stats.largest_temporary_bytes / 2**20:.1f} MiB "
          f"(a queries x pages x tokens tensor would be {naive_tensor / 2**30:.0f} GiB); "
          f"peak RSS above start ({rss0:.0f} MiB): ours {rss_rank:.0f} MiB scoring, {rss_eval:.0f} MiB evaluation; "
          f"naive {rss_naive:.0f} MiB scores, {rss_naive_eval:.0f} MiB dict+pytrec ({n_naive} queries)")  # fmt: skip
    print(f"maxsim precision {stats.precision}" + ("" if peak_fraction is None else
          f": {stats.useful_macs / t_rank * 2 / 1e12:.1f} useful TFLOP/s = {peak_fraction:.2f} of the measured "
          f"bf16 matmul peak ({peak * 2 / 1e12:.0f} TFLOP/s); performed/useful MACs "
          f"{stats.performed_macs / stats.useful_macs:.2f}"))
    return naive_t / ours_t, bare / t_rank, peak_fraction


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--naive-fraction", type=float, default=0.1, help="share of queries the naive MaxSim runs")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="round multi-vectors to bf16 values (auto: on CUDA)")
    args = ap.parse_args()
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and args.device != "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device != "cpu":
        torch.set_float32_matmul_precision("highest")  # the naive path in full fp32 too (no TF32)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{args.queries} queries x {args.pages} pages")  # fmt: skip
    data = make_subset(args.queries, args.pages, args.seed)
    with torch.inference_mode():
        warm = make_subset(20, 30, args.seed + 1)  # first-call costs (imports, thread pools) for both paths
        bench_dense(warm, args.device, quiet=True, repeats=1)
        bench_maxsim(warm, args.device, 0.5, quiet=True, bf16=bf16)
        dense = bench_dense(data, args.device)
        maxsim, efficiency, peak_fraction = bench_maxsim(data, args.device, args.naive_fraction, bf16=bf16)
    tail = "" if peak_fraction is None else f" maxsim_bf16_peak_fraction={peak_fraction:.2f}"
    print(f"dense_speedup={dense:.1f} maxsim_speedup={maxsim:.2f} maxsim_flop_efficiency={efficiency:.2f}{tail}")


if __name__ == "__main__":
    main()
