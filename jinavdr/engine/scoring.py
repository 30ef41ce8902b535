"""Query x page scoring with an exact, streaming top-k.

Dense similarities (``dot``, ``cosine``) and multi-vector late interaction (``maxsim``: for each
query token the best page token, summed over query tokens) run on CUDA when present, else on the
CPU. Dense scores and CPU MaxSim are computed in fp32. MaxSim on CUDA with bf16 inputs (bf16 tensors,
or fp32 tensors whose values are all bf16 numbers, as a bf16 model's outputs are) runs the fused
kernel of :mod:`jinavdr.engine.maxsim_kernel`: bf16 products, fp32 accumulation, a running max per
query token, no token x token matrix in memory; otherwise fp32 as on the CPU. Products of bf16
numbers are exact in fp32, so both give the same scores up to the fp32 summation order.

Reproducibility rules (see docs/scoring.md):

* **Fixed block grid.** BLAS libraries sum a dot product in an order that depends on the shape of
  the matrix product (MKL and cuBLAS both do), so fp32 scores computed in different chunks differ in
  the last bits. The arithmetic therefore runs on a fixed grid of blocks (:class:`Tiling`), one matrix
  product per block pair, anchored at fixed positions. Chunk sizes only decide how many blocks are
  handled per step (memory), so scores are bit-identical for any ``query_chunk`` / ``page_chunk``.
* **Exact ties.** Rows are ordered by score (descending), then by a fixed per-page tie priority
  (lower first): the page index by default; :func:`rank` uses trec_eval's order (doc id descending),
  so a top-k run is exactly the head of the full ranking that trec_eval would evaluate.
* **Padding never wins.** Padded page token slots repeat one of the page's own tokens, so the max
  over page tokens is taken over real tokens only, whatever the sign of the similarities.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from jinavdr.errors import UnknownNameError
from jinavdr.models.device import resolve_device
from jinavdr.models.ranking import Run, trec_tie_order

if TYPE_CHECKING:
    import torch

    from jinavdr.models.embeddings import Embeddings

SIMILARITIES = ("dot", "cosine", "maxsim")
DEFAULT_K = 100


@dataclass(frozen=True)
class Tiling:
    """The fixed block grid the arithmetic runs on (part of the numerical definition of a score).

    Dense: blocks of ``query_block`` queries x ``page_block`` pages. MaxSim: blocks of ``query_block``
    queries x ``page_block`` pages taken in order of token count (so a block pads little). Changing
    the tiling may move scores in the last bit; chunk sizes never do.
    """

    query_block: int
    page_block: int

    def __post_init__(self) -> None:
        if self.query_block < 1 or self.page_block < 1:
            raise ValueError(f"tiling blocks must be >= 1, got {self}")

    def as_dict(self) -> dict[str, int]:
        return {"query_block": self.query_block, "page_block": self.page_block}


#: blocks of the bf16 MaxSim path (see :class:`_MaxSimScorer`; they do not move its scores).
BF16_QUERY_BLOCK, BF16_PAGE_BLOCK = 1024, 1024

_DEFAULT_TILING = {
    ("cpu", False): Tiling(1024, 4096),
    ("cpu", True): Tiling(64, 2),
    ("cuda", False): Tiling(4096, 16384),
    ("cuda", True): Tiling(128, 64),
}


def default_tiling(similarity: str, device: str | torch.device) -> Tiling:
    """The tiling used when none is given: per device type and similarity kind."""
    import torch

    kind = "cuda" if torch.device(device).type == "cuda" else "cpu"
    return _DEFAULT_TILING[(kind, similarity == "maxsim")]


def scoring_settings(similarity: str, device: str | torch.device | None = None, tiling: Tiling | None = None) -> dict[str, Any]:
    """What a result file should record about scoring: scores can move in their last bit with these."""
    import torch

    from jinavdr.engine import maxsim_kernel

    # a record describes the device it is given (a GPU run's record may be built anywhere)
    dev = resolve_device(None) if device is None else torch.device(device)
    out = {
        "similarity": similarity,
        "scoring_device": dev.type,
        "tiling": (tiling or default_tiling(similarity, dev)).as_dict(),
        "torch": torch.__version__,
    }
    if similarity == "maxsim" and maxsim_kernel.available(dev):
        out["maxsim_kernel"] = (f"bf16 inputs when exact (fp32 accumulation), blocks {maxsim_kernel.BLOCK_M}x"
                                f"{maxsim_kernel.BLOCK_N}; else fp32")
    return out


@dataclass
class ScoringStats:
    """Filled in by :func:`score_topk` when passed: what the computation actually did."""

    tiles: int = 0
    #: multiply-adds over real tokens only (sum over query x page pairs of Tq * Tp * D, or Q * P * D).
    useful_macs: int = 0
    #: multiply-adds performed, padding included.
    performed_macs: int = 0
    #: bytes of the largest temporary tensor allocated for one block pair or one chunk.
    largest_temporary_bytes: int = 0
    #: "fp32", or "bf16" when MaxSim ran the fused bf16 kernel
    precision: str = "fp32"
    tiling: dict[str, int] = field(default_factory=dict)
    device: str = ""

    def _temp(self, t: torch.Tensor) -> None:
        self.largest_temporary_bytes = max(self.largest_temporary_bytes, t.numel() * t.element_size())


def score_topk(
    queries: Embeddings,
    pages: Embeddings,
    *,
    similarity: str,
    k: int | None = DEFAULT_K,
    query_chunk: int | None = None,
    page_chunk: int | None = None,
    device: str | torch.device | None = None,
    tie_order: Sequence[int] | np.ndarray | None = None,
    tiling: Tiling | None = None,
    stats: ScoringStats | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` pages per query: ``(indices int64 [Q, k'], scores float32 [Q, k'])``.

    ``k' = min(k, #pages)``; ``k=None`` ranks every page. Rows are sorted by score descending, then
    by ``tie_order`` (a permutation of the page indices; a lower value ranks first; default: page
    index). ``query_chunk`` / ``page_chunk`` bound memory (rounded up to whole blocks of ``tiling``)
    and never change the result. Memory is bounded by one chunk; no queries x pages x tokens tensor
    is ever built.
    """
    import torch

    _check_inputs(queries, pages, similarity, k)
    dev = resolve_device(device)
    tiling = tiling or default_tiling(similarity, dev)
    n_pages = len(pages)
    k_eff = n_pages if k is None else min(k, n_pages)
    prio = _tie_priority(tie_order, n_pages)
    stats = stats if stats is not None else ScoringStats()
    stats.tiling, stats.device = tiling.as_dict(), str(dev)

    scorer: _Scorer
    if similarity == "maxsim":
        scorer = _MaxSimScorer(queries, pages, tiling, dev, stats)
    else:
        scorer = _DenseScorer(queries, pages, tiling, dev, stats, cosine=similarity == "cosine")
    top = _StreamingTopK(k_eff, prio)
    with _full_fp32_matmul(), torch.inference_mode():
        q_chunks = scorer.query_chunks(query_chunk)
        for pc in scorer.page_chunks(page_chunk):
            for qc in q_chunks:
                top.push(qc.rows, scorer.score(qc, pc), pc.pages)
        return top.result(len(queries))


def rank(
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    queries: Embeddings,
    pages: Embeddings,
    *,
    similarity: str,
    k: int | None = DEFAULT_K,
    **options: Any,
) -> Run:
    """Score and rank, ties in trec_eval's order (doc id descending): a :class:`Run`.

    Because ties follow trec_eval, every metric at a cutoff <= ``k`` computed on this run equals the
    one computed on the full ranking. ``options`` go to :func:`score_topk` (chunks, device, tiling,
    stats).
    """
    query_ids, doc_ids = list(query_ids), list(doc_ids)
    if len(query_ids) != len(queries) or len(doc_ids) != len(pages):
        raise ValueError(
            f"{len(query_ids)} query ids for {len(queries)} query embeddings and {len(doc_ids)} doc ids "
            f"for {len(pages)} page embeddings: they must match one to one"
        )
    if len(set(doc_ids)) != len(doc_ids):
        raise ValueError("doc ids must be unique within a corpus (a duplicate id would merge two pages)")
    indices, scores = score_topk(
        queries, pages, similarity=similarity, k=k, tie_order=trec_tie_order(doc_ids), **options
    )
    return Run(query_ids, doc_ids, indices, scores)


# --- input checks --------------------------------------------------------------------------------


def _check_inputs(queries: Embeddings, pages: Embeddings, similarity: str, k: int | None) -> None:
    if similarity not in SIMILARITIES:
        raise UnknownNameError("similarity", similarity, SIMILARITIES)
    multi = similarity == "maxsim"
    for name, emb in (("query", queries), ("page", pages)):
        if emb.is_multi != multi:
            want = "multi-vector (ragged)" if multi else "dense [N, D]"
            got = "multi-vector" if emb.is_multi else "dense"
            raise ValueError(f"similarity {similarity!r} needs {want} {name} embeddings, got {got} ones")
        if multi and len(emb) and int(emb.lengths().min()) == 0:
            i = int(np.flatnonzero(emb.lengths().cpu().numpy() == 0)[0])
            raise ValueError(
                f"{name} {i} has no token vectors; MaxSim needs at least one per item "
                "(check the encoder output for that item)"
            )
    if queries.dim != pages.dim:
        raise ValueError(f"query dimension {queries.dim} differs from page dimension {pages.dim}")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 (or None for the full ranking), got {k}")


def _tie_priority(tie_order: Sequence[int] | np.ndarray | None, n_pages: int) -> np.ndarray:
    """Per page, its rank among equal scores (0 first), checked to be a permutation."""
    if tie_order is None:
        prio = np.arange(n_pages, dtype=np.int64)
    else:
        prio = np.asarray(tie_order, dtype=np.int64)
        if prio.shape != (n_pages,) or not np.array_equal(np.sort(prio), np.arange(n_pages)):
            raise ValueError(f"tie_order must be a permutation of 0..{n_pages - 1} (one entry per page)")
    return prio


@contextlib.contextmanager
def _full_fp32_matmul() -> Iterator[None]:
    """Force IEEE fp32 matrix products (no TF32) while scoring; restores the caller's setting."""
    import torch

    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


# --- streaming top-k ---------------------------------------------------------------------------

_LOW_BITS = 0xFFFFFFFF
_HOST_ROWS = 64  # rows per host-side selection step


class _StreamingTopK:
    """Keeps the best ``k`` pages per query while page chunks stream by, in the exact order.

    Order: score descending, then tie priority. Each (score, page) becomes one unique int64 key
    (order-preserving float bits high, tie bits low) that also encodes both, so the state is just
    each row's best ``k`` keys: merging is a partition of keys, the final order a sort of keys.
    The device only picks ``k + 1`` candidates per row; the bookkeeping runs on the host.
    """

    def __init__(self, k: int, prio: np.ndarray) -> None:
        self.k = k
        self.low = _LOW_BITS - prio  # larger ranks first among equal scores
        self.page_of_prio = np.argsort(prio)
        self.state: dict[int, np.ndarray] = {}  # row start -> keys [rows, <= k], any order

    def push(self, rows: slice, scores: torch.Tensor, pages: np.ndarray) -> None:
        low = self.low[pages]
        pos, vals = _chunk_topk(scores, low, self.k, rows.start)
        keys = _sort_keys(vals, np.take(low, pos))
        if rows.start in self.state:
            keys = _top_keys(np.concatenate([self.state[rows.start], keys], 1), self.k)
        self.state[rows.start] = keys

    def result(self, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores, each row in the exact order."""
        if not self.state:  # no queries, or no pages
            shape = (n_queries, self.k)
            return np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.float32)
        keys = np.concatenate([self.state[s] for s in sorted(self.state)])
        keys = ~np.sort(~keys, axis=1)  # descending (~ reverses the order of int64 without overflow)
        pages = self.page_of_prio[_LOW_BITS - (keys & _LOW_BITS)]
        return pages.astype(np.int64, copy=False), _key_scores(keys)


def _host(t: torch.Tensor) -> np.ndarray:
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()


def _chunk_topk(scores: torch.Tensor, low: np.ndarray, k: int, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and scores of the exact top ``k`` of each row (as a set, any order).

    The device selects ``k`` entries by value and reports the (k+1)-th largest value; a row where
    that value equals the smallest selected one has a tie straddling the cut, and only such rows
    are re-selected from the full row with exact keys. NaN is an error.
    """
    n, m = scores.shape
    if k >= m:
        vals = _host(scores)
        _check_nan(vals, first_row)
        return np.broadcast_to(np.arange(m), (n, m)), vals
    pos, vals, next_val = _candidates(scores, k)
    _check_nan(vals, first_row)  # NaN ranks above everything, so any NaN in a row is selected
    straddle = np.flatnonzero(vals.min(axis=1) == next_val)
    if straddle.size:
        import torch

        full = _host(scores[torch.from_numpy(straddle).to(scores.device)])
        pos[straddle] = _top_by_key(_sort_keys(full, low), k)
        vals[straddle] = np.take_along_axis(full, pos[straddle], 1)
    return pos, vals


def _check_nan(vals: np.ndarray, first_row: int) -> None:
    if np.isnan(vals).any():
        bad = int(np.flatnonzero(np.isnan(vals).any(1))[0]) + first_row
        raise ValueError(
            f"similarity score of query {bad} is NaN; the embeddings contain NaN or inf values "
            "(check the encoder output)"
        )


def _candidates(scores: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions and values of some ``k`` largest entries per row (ties arbitrary) and each row's
    (k+1)-th largest value, on the host (writable arrays). Needs ``k < m``."""
    if scores.device.type == "cpu":  # numpy's partition is faster than topk on CPU
        x = scores.numpy()
        n, m = x.shape
        pos, vals, next_val = np.empty((n, k), np.intp), np.empty((n, k), x.dtype), np.empty(n, x.dtype)
        for r in range(0, n, _HOST_ROWS):  # a few rows at a time: the temporaries stay in cache
            rows = x[r : r + _HOST_ROWS]
            part = np.argpartition(rows, m - k - 1, axis=1)  # column m-k-1: the (k+1)-th largest
            flat, base = rows.reshape(-1), np.arange(0, len(rows) * m, m)
            pos[r : r + _HOST_ROWS] = part[:, m - k :]
            vals[r : r + _HOST_ROWS] = flat[part[:, m - k :] + base[:, None]]
            next_val[r : r + _HOST_ROWS] = flat[part[:, m - k - 1] + base]
        return pos, vals, next_val
    vals, pos = scores.topk(k + 1, dim=1, sorted=True)
    vals, pos = vals.cpu().numpy(), pos.cpu().numpy()
    return pos[:, :k].copy(), vals[:, :k].copy(), vals[:, k].copy()


def _top_by_key(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest keys per row (keys are unique; any order)."""
    m = keys.shape[1]
    if k >= m:
        return np.broadcast_to(np.arange(m), keys.shape).copy()
    return np.argpartition(keys, m - k, axis=1)[:, m - k :]


def _top_keys(keys: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` largest keys per row (keys are unique; any order)."""
    m = keys.shape[1]
    return keys if k >= m else np.partition(keys, m - k, axis=1)[:, m - k :]


def _sort_keys(scores: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Unique int64 keys ordering by (score, tie priority); -0.0 counts as 0.0."""
    bits = np.ascontiguousarray(scores + np.float32(0.0), dtype=np.float32).view(np.int32)
    ordered = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))  # monotonic in the float value
    return (ordered.astype(np.int64) << 32) + low


def _key_scores(keys: np.ndarray) -> np.ndarray:
    """The scores encoded in :func:`_sort_keys` keys (the bit map is its own inverse); -0.0 -> 0.0."""
    ordered = (keys >> 32).astype(np.int32)
    return (ordered ^ ((ordered >> 31) & np.int32(0x7FFFFFFF))).view(np.float32)


# --- scorers -------------------------------------------------------------------------------------


@dataclass
class _QueryChunk:
    rows: slice  # query rows of this chunk
    blocks: list[Any]  # per block: (row offset in chunk, block data...)


@dataclass
class _PageChunk:
    pages: np.ndarray  # int64 page indices, in column order
    blocks: list[Any]  # per block: (column offset in chunk, block data...)


class _Scorer:
    def query_chunks(self, chunk: int | None) -> list[_QueryChunk]: ...

    def page_chunks(self, chunk: int | None) -> Iterator[_PageChunk]: ...

    def score(self, qc: _QueryChunk, pc: _PageChunk) -> torch.Tensor: ...


def _chunk_blocks(n_blocks: int, block: int, chunk: int | None, default: int) -> Iterator[range]:
    """Group consecutive blocks into chunks of about ``chunk`` items (at least one block)."""
    per = max(1, -(-(chunk or default) // block))
    for start in range(0, n_blocks, per):
        yield range(start, min(start + per, n_blocks))


def _fp32_copy(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """``t`` as a 64-byte aligned, contiguous fp32 tensor on ``dev`` (a copy unless it already is),
    so a block's matrix product always sees the same memory layout."""
    import torch

    if t.dtype == torch.float32 and t.device == dev and t.is_contiguous() and t.data_ptr() % 64 == 0:
        return t
    return t.to(device=dev, dtype=torch.float32, copy=True)


class _DenseScorer(_Scorer):
    DEFAULT_QUERY_CHUNK, DEFAULT_PAGE_CHUNK = 4096, 8192

    def __init__(
        self, queries: Embeddings, pages: Embeddings, tiling: Tiling, dev: torch.device,
        stats: ScoringStats, *, cosine: bool,
    ) -> None:  # fmt: skip
        self.q, self.p, self.t, self.dev, self.stats, self.cosine = queries, pages, tiling, dev, stats, cosine
        self.stats.useful_macs = self.stats.performed_macs = len(queries) * len(pages) * queries.dim

    def _block(self, data: torch.Tensor) -> torch.Tensor:
        import torch

        x = _fp32_copy(data, self.dev)
        return torch.nn.functional.normalize(x, dim=1) if self.cosine else x

    def query_chunks(self, chunk: int | None) -> list[_QueryChunk]:
        qb, n = self.t.query_block, len(self.q)
        out = []
        for blocks in _chunk_blocks(-(-n // qb), qb, chunk, self.DEFAULT_QUERY_CHUNK):
            start = blocks[0] * qb
            parts = [(b * qb - start, self._block(self.q.data[b * qb : (b + 1) * qb])) for b in blocks]
            out.append(_QueryChunk(slice(start, min(n, (blocks[-1] + 1) * qb)), parts))
        return out

    def page_chunks(self, chunk: int | None) -> Iterator[_PageChunk]:
        pb, n = self.t.page_block, len(self.p)
        for blocks in _chunk_blocks(-(-n // pb), pb, chunk, self.DEFAULT_PAGE_CHUNK):
            start, end = blocks[0] * pb, min(n, (blocks[-1] + 1) * pb)
            parts = [(b * pb - start, self._block(self.p.data[b * pb : (b + 1) * pb])) for b in blocks]
            yield _PageChunk(np.arange(start, end, dtype=np.int64), parts)

    def score(self, qc: _QueryChunk, pc: _PageChunk) -> torch.Tensor:
        import torch

        if len(qc.blocks) == 1 and len(pc.blocks) == 1:  # one block pair: no assembly needed
            self.stats.tiles += 1
            out = qc.blocks[0][1] @ pc.blocks[0][1].T
            self.stats._temp(out)
            return out
        out = torch.empty(qc.rows.stop - qc.rows.start, len(pc.pages), device=self.dev)
        self.stats._temp(out)
        for r, qx in qc.blocks:
            for c, px in pc.blocks:
                out[r : r + qx.shape[0], c : c + px.shape[0]] = qx @ px.T
                self.stats.tiles += 1
        return out


class _MaxSimScorer(_Scorer):
    DEFAULT_QUERY_CHUNK, DEFAULT_PAGE_CHUNK = 4096, 256

    def __init__(
        self, queries: Embeddings, pages: Embeddings, tiling: Tiling, dev: torch.device, stats: ScoringStats
    ) -> None:
        import torch

        from jinavdr.engine import maxsim_kernel

        self.q, self.p, self.t, self.dev, self.stats = queries, pages, tiling, dev, stats
        # on a GPU, page tokens move there once (in their own dtype) and blocks are gathered there
        self.p_data = pages.data.to(dev) if dev.type == "cuda" else pages.data
        self.bf16 = maxsim_kernel.available(dev) and _bf16_exact(self.p_data) and _bf16_exact(queries.data)
        if self.bf16:
            self.p_data = self.p_data.to(torch.bfloat16)
            stats.precision = "bf16"
            # scores of this path do not depend on the blocks (a max is exact; each query's token
            # maxima are added one by one, in token order), so blocks are sized for speed
            self.t = tiling = Tiling(BF16_QUERY_BLOCK, BF16_PAGE_BLOCK)
            stats.tiling = tiling.as_dict()
        self.q_len = queries.lengths().cpu()
        self.p_len = pages.lengths().cpu()
        self.p_off = pages.offsets.cpu()  # type: ignore[union-attr]
        # pages in order of token count (stable: equal lengths keep index order) so blocks pad little
        self.order = torch.argsort(self.p_len, stable=True)
        stats.useful_macs = int(self.q_len.sum()) * int(self.p_len.sum()) * queries.dim

    def query_chunks(self, chunk: int | None) -> list[_QueryChunk]:
        """Per block: its tokens (one fp32 copy) and the index that lays token rows out per query."""
        import torch

        qb, n, off = self.t.query_block, len(self.q), self.q.offsets.cpu()  # type: ignore[union-attr]
        out = []
        for blocks in _chunk_blocks(-(-n // qb), qb, chunk, self.DEFAULT_QUERY_CHUNK):
            start = blocks[0] * qb
            parts = []
            for b in blocks:
                lo, hi = b * qb, min(n, (b + 1) * qb)
                t0, t1 = int(off[lo]), int(off[hi])
                lens = self.q_len[lo:hi]
                width = int(lens.max())
                # layout[i, j] = row of token j of query i, or the zero row (t1 - t0) past its end
                j = torch.arange(width).unsqueeze(0)
                layout = torch.where(j < lens.unsqueeze(1), (off[lo:hi] - t0).unsqueeze(1) + j, t1 - t0)
                tokens = self.q.data[t0:t1]
                tokens = tokens.to(self.dev, torch.bfloat16) if self.bf16 else _fp32_copy(tokens, self.dev)
                parts.append((lo - start, tokens, layout.to(self.dev), hi - lo))
            out.append(_QueryChunk(slice(start, min(n, (blocks[-1] + 1) * qb)), parts))
        return out

    def page_chunks(self, chunk: int | None) -> Iterator[_PageChunk]:
        """Blocks of pages of similar length: padded to the block's longest page (fp32), or packed
        (bf16 kernel)."""
        import torch

        from jinavdr.engine import maxsim_kernel

        pb, n = self.t.page_block, len(self.p)
        for blocks in _chunk_blocks(-(-n // pb), pb, chunk, self.DEFAULT_PAGE_CHUNK):
            start, end = blocks[0] * pb, min(n, (blocks[-1] + 1) * pb)
            parts = []
            for b in blocks:
                members = self.order[b * pb : min(n, (b + 1) * pb)]
                lens = self.p_len[members]
                width = int(lens.max())
                if self.bf16:  # packed, unpadded tokens and offsets; the kernel runs each page's own tiles
                    tiles = int((-(-lens // maxsim_kernel.BLOCK_N)).sum()) * maxsim_kernel.BLOCK_N
                    parts.append((b * pb - start, *self._packed(members, lens), len(members), tiles))
                    continue
                # padding slots repeat the page's last token: the max then only sees real tokens
                j = torch.minimum(torch.arange(width).unsqueeze(0), (lens - 1).unsqueeze(1))
                rows = (self.p_off[members].unsqueeze(1) + j).reshape(-1)
                tokens = _fp32_copy(self.p_data[rows.to(self.p_data.device)], self.dev)
                self.stats._temp(tokens)
                parts.append((b * pb - start, tokens, len(members), width))
            yield _PageChunk(self.order[start:end].numpy(), parts)

    def score(self, qc: _QueryChunk, pc: _PageChunk) -> torch.Tensor:
        import torch

        out = torch.empty(qc.rows.stop - qc.rows.start, len(pc.pages), device=self.dev)
        self.stats._temp(out)
        if self.bf16:
            return self._score_bf16(qc, pc, out)
        for r, q_tokens, layout, n_q in qc.blocks:
            for c, p_tokens, n_p, width in pc.blocks:
                sim = q_tokens @ p_tokens.T  # [query tokens, n_p * width]: one matrix product
                self.stats._temp(sim)
                best = sim.view(-1, n_p, width).amax(dim=2)  # best page token per query token
                best = torch.cat([best, best.new_zeros(1, n_p)])  # the zero row for layout padding
                out[r : r + n_q, c : c + n_p] = best[layout].sum(dim=1)  # [n_q, width_q, n_p] -> [n_q, n_p]
                self.stats.tiles += 1
                self.stats.performed_macs += sim.numel() * q_tokens.shape[1]
        return out

    def _packed(self, members: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens of ``members`` back to back (bf16, on the device) and their offsets."""
        import torch

        offsets = torch.zeros(len(members) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(lens, 0)
        starts = self.p_off[members]
        rows = torch.repeat_interleave(starts - offsets[:-1], lens) + torch.arange(int(offsets[-1]))
        tokens = self.p_data[rows.to(self.p_data.device)].contiguous()
        self.stats._temp(tokens)
        return tokens, offsets.to(self.dev)

    def _score_bf16(self, qc: _QueryChunk, pc: _PageChunk, out: torch.Tensor) -> torch.Tensor:
        import torch

        from jinavdr.engine import maxsim_kernel

        for r, q_tokens, layout, n_q in qc.blocks:
            for c, p_tokens, p_offsets, n_p, tile_cols in pc.blocks:
                best = maxsim_kernel.best_page_token(q_tokens, p_tokens, p_offsets)  # [query tokens, n_p]
                self.stats._temp(best)
                best = torch.cat([best, best.new_zeros(1, n_p)])  # the zero row for layout padding
                total = best[layout[:, 0]]
                for j in range(1, layout.shape[1]):  # token by token: the same sum whatever the block
                    total += best[layout[:, j]]
                out[r : r + n_q, c : c + n_p] = total
                self.stats.tiles += 1
                rows = -(-q_tokens.shape[0] // maxsim_kernel.BLOCK_M) * maxsim_kernel.BLOCK_M
                self.stats.performed_macs += rows * tile_cols * q_tokens.shape[1]
        return out


def _bf16_exact(data: torch.Tensor) -> bool:
    """Whether every value of ``data`` is a bf16 number (bf16 tensors, or a bf16 model's outputs in fp32)."""
    import torch

    if data.dtype == torch.bfloat16:
        return True
    if data.dtype != torch.float32:
        return False
    return bool(torch.equal(data, data.to(torch.bfloat16).to(torch.float32)))
