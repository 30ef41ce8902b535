"""A fused MaxSim kernel for CUDA (Triton): bf16 inputs, fp32 accumulation, no token x token matrix.

``best_page_token(q_tokens, p_tokens, p_offsets)`` returns ``best[i, j]``: the largest dot product
of query token ``i`` with the tokens of page ``j`` (rows ``p_offsets[j]:p_offsets[j+1]`` of
``p_tokens``), in fp32. One program takes :data:`BLOCK_M` query tokens and one page, and streams the
page's tokens in tiles of :data:`BLOCK_N` (as many tiles as that page needs: a short page next to a
long one does no padded work; only its last tile is masked) through ``tl.dot`` (tensor cores, fp32
accumulators),
keeping a running max per query token; the similarity matrix never reaches memory.

Numerics: each dot product is one ``tl.dot`` over the full dimension (no split of the reduction),
and a max is exact, so ``best[i, j]`` depends only on query token ``i`` and page ``j``: never on which
other tokens or pages share a call. The tile sizes are fixed constants (no autotuning), part of the
numerical definition like :class:`jinavdr.engine.scoring.Tiling`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

BLOCK_M = 64
BLOCK_N = 128
NUM_WARPS = 4
NUM_STAGES = 3


@functools.lru_cache(maxsize=1)
def _kernel() -> Any:
    """The compiled Triton kernel (built on first use; None when Triton is missing)."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def best_kernel(q_ptr, p_ptr, off_ptr, out_ptr, n_q, n_pages, D: tl.constexpr,
                    BM: tl.constexpr, BN: tl.constexpr):
        pid_m = tl.program_id(0)
        page = tl.program_id(1)
        rows = pid_m * BM + tl.arange(0, BM)
        dims = tl.arange(0, D)
        q = tl.load(q_ptr + rows[:, None] * D + dims[None, :], mask=rows[:, None] < n_q, other=0.0)
        start = tl.load(off_ptr + page)
        end = tl.load(off_ptr + page + 1)
        best = tl.full((BM,), float("-inf"), tl.float32)
        for tile in range(0, tl.cdiv(end - start, BN)):  # this page's own tiles only
            cols = start + tile * BN + tl.arange(0, BN)
            p = tl.load(p_ptr + cols[:, None] * D + dims[None, :], mask=cols[:, None] < end, other=0.0)
            s = tl.dot(q, tl.trans(p), out_dtype=tl.float32)
            s = tl.where(cols[None, :] < end, s, float("-inf"))
            best = tl.maximum(best, tl.max(s, axis=1))
        tl.store(out_ptr + rows * n_pages + page, best, mask=rows < n_q)

    return best_kernel


def available(device: torch.device) -> bool:
    """Whether the kernel runs on ``device``: CUDA with bf16 support, Triton installed, and a small
    call (compiled once per process) matching a reference."""
    import torch

    if device.type != "cuda" or not torch.cuda.is_available() or not torch.cuda.is_bf16_supported():
        return False
    return _kernel() is not None and _self_test(torch.cuda.current_device() if device.index is None else device.index)


@functools.cache
def _self_test(index: int) -> bool:
    import torch

    try:
        gen = torch.Generator(device="cpu").manual_seed(0)
        q = torch.randn(70, 128, generator=gen).to(f"cuda:{index}", torch.bfloat16)
        p = torch.randn(200, 128, generator=gen).to(f"cuda:{index}", torch.bfloat16)
        offsets = torch.tensor([0, 5, 135, 136, 200], device=f"cuda:{index}")
        got = best_page_token(q, p, offsets)
        want = torch.stack([(q.float() @ p[a:b].float().T).amax(1) for a, b in
                            zip(offsets.tolist(), offsets.tolist()[1:], strict=False)], 1)
        return bool(torch.allclose(got, want, rtol=1e-4, atol=1e-4))
    except Exception:  # noqa: BLE001 - a Triton or driver failure means: use the fp32 path
        return False


def best_page_token(q_tokens: torch.Tensor, p_tokens: torch.Tensor, p_offsets: torch.Tensor) -> torch.Tensor:
    """``best [Tq, n_pages]`` fp32 (see the module docstring). ``q_tokens`` [Tq, D] and ``p_tokens``
    [Tp, D] are contiguous bf16 on one CUDA device; ``p_offsets`` int32/int64 [n_pages + 1] there.
    Every page needs at least one token (an empty page would give -inf)."""
    import torch

    if q_tokens.dtype != torch.bfloat16 or p_tokens.dtype != torch.bfloat16:
        raise ValueError(f"the MaxSim kernel takes bf16 tokens, got {q_tokens.dtype} and {p_tokens.dtype}")
    n_q, dim = q_tokens.shape
    n_pages = p_offsets.numel() - 1
    if dim % 16 or dim != p_tokens.shape[1]:
        raise ValueError(f"token dimensions must match and be a multiple of 16, got {dim} and {p_tokens.shape[1]}")
    out = torch.empty(n_q, n_pages, device=q_tokens.device, dtype=torch.float32)
    if n_q == 0 or n_pages == 0:
        return out
    grid = (-(-n_q // BLOCK_M), n_pages)
    _kernel()[grid](q_tokens.contiguous(), p_tokens.contiguous(), p_offsets.contiguous(), out, n_q, n_pages,
                    D=dim, BM=BLOCK_M, BN=BLOCK_N, num_warps=NUM_WARPS, num_stages=NUM_STAGES)
    return out
