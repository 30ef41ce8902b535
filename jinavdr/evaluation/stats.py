"""Significance tests and confidence intervals for per-query retrieval scores.

Everything here works on plain sequences of floats (typically per-query nDCG@5 values) and is
vectorised with numpy: resamples are drawn and evaluated as matrices in bounded-size chunks, never
one Python iteration per resample. Every function is deterministic for a given ``seed``.

Conventions
-----------
- Paired functions take ``a`` (baseline) and ``b`` (candidate), aligned query by query, and study
  the differences ``d = b - a``: a positive mean means the candidate scores higher.
- ``paired_randomization_test``: two-sided sign-flip permutation test of ``mean(d) == 0``. Under the
  null hypothesis the two systems are exchangeable for each query, so each difference keeps its
  magnitude but has a random sign. Exact (all ``2**m`` sign patterns of the ``m`` non-zero
  differences) when ``m <= exact_max_n``, Monte Carlo with ``n_resamples`` random patterns otherwise.
- ``paired_bootstrap_ci`` / ``bootstrap_ci``: percentile bootstrap; queries are resampled with
  replacement (for the paired variant the same query indices are drawn for both systems).
- ``holm_bonferroni``: step-down adjusted p-values for a family of tests (e.g. one per dataset).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "bootstrap_ci",
    "bootstrap_means",
    "holm_bonferroni",
    "paired_bootstrap_ci",
    "paired_randomization_test",
]

# Largest number of matrix cells evaluated at once (bounds memory to a few tens of MB).
_CHUNK_CELLS = 2_000_000


def _as_vector(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional sequence of numbers, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: at least one value is needed")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _differences(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    va, vb = _as_vector(a, "a"), _as_vector(b, "b")
    if va.shape != vb.shape:
        raise ValueError(f"paired inputs differ in length: len(a)={va.size}, len(b)={vb.size}")
    return vb - va


def _rows_per_chunk(width: int) -> int:
    return max(1, _CHUNK_CELLS // max(1, width))


def _check_resamples(n_resamples: int) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")


def paired_randomization_test(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    exact_max_n: int = 16,
) -> float:
    """Two-sided p-value that ``mean(b - a)`` is zero, by a paired sign-flip permutation test.

    The statistic is ``|sum(s * d)|`` over sign vectors ``s`` in {-1, +1}^n (equivalent to the mean,
    n being fixed). Zero differences do not move the statistic and are left out. With ``m`` non-zero
    differences:

    - ``m == 0``: p = 1 (the systems agree on every query);
    - ``m <= exact_max_n``: exact; p = (# of the 2**m sign patterns, the observed one included, whose
      |statistic| >= the observed one) / 2**m;
    - otherwise: ``n_resamples`` patterns drawn uniformly with ``numpy.random.default_rng(seed)``;
      p = (1 + # at least as extreme) / (1 + n_resamples), which is never 0.

    "At least as extreme" allows a relative float tolerance of 1e-9 so that ties are counted.
    """
    _check_resamples(n_resamples)
    d = _differences(a, b)
    d = d[d != 0.0]
    m = d.size
    if m == 0:
        return 1.0
    observed = abs(float(d.sum()))
    tol = 1e-9 * float(np.abs(d).sum())
    total = float(d.sum())

    def extreme_count(bits: np.ndarray) -> int:
        # With s = 1 - 2 * bits, sum(s * d) = total - 2 * (bits @ d).
        stats = total - 2.0 * (bits.astype(np.float64) @ d)
        return int(np.count_nonzero(np.abs(stats) >= observed - tol))

    rows = _rows_per_chunk(m)
    if m <= exact_max_n:
        n_patterns = 1 << m
        shifts = np.arange(m, dtype=np.int64)
        hits = 0
        for start in range(0, n_patterns, rows):
            codes = np.arange(start, min(start + rows, n_patterns), dtype=np.int64)
            hits += extreme_count((codes[:, None] >> shifts) & 1)
        return hits / n_patterns

    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        hits += extreme_count(rng.integers(0, 2, size=(size, m), dtype=np.int8))
    return (1 + hits) / (1 + n_resamples)


def bootstrap_means(values: np.ndarray, n_resamples: int, seed: int | Sequence[int]) -> np.ndarray:
    """Means of ``n_resamples`` samples of ``values`` drawn with replacement (same size), in bounded
    chunks; ``seed`` seeds ``numpy.random.default_rng`` (an int or a sequence of ints)."""
    n = values.size
    rng = np.random.default_rng(seed)
    rows = _rows_per_chunk(n)
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        means[start : start + size] = values[idx].mean(axis=1)
    return means


def _percentile_interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def bootstrap_ci(
    values: Sequence[float],
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``mean(values)``.

    Draws ``n_resamples`` samples of the same size as ``values`` with replacement
    (``numpy.random.default_rng(seed)``) and returns the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of their means.
    """
    _check_resamples(n_resamples)
    _check_confidence(confidence)
    v = _as_vector(values, "values")
    return _percentile_interval(bootstrap_means(v, n_resamples, seed), confidence)


def paired_bootstrap_ci(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``mean(b - a)``.

    Queries are resampled with replacement and both systems keep their pairing (one index draw per
    query serves ``a`` and ``b``), i.e. the bootstrap runs on the differences ``b - a``.
    """
    _check_resamples(n_resamples)
    _check_confidence(confidence)
    d = _differences(a, b)
    return _percentile_interval(bootstrap_means(d, n_resamples, seed), confidence)


def holm_bonferroni(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order.

    With p-values sorted ascending p(1) <= ... <= p(m), the adjusted value of p(i) is
    ``max over j <= i of min(1, (m - j + 1) * p(j))``. Rejecting where the adjusted p < alpha controls
    the family-wise error rate at alpha. An empty input gives an empty list.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be a one-dimensional sequence, got shape {p.shape}")
    if p.size == 0:
        return []
    if np.any(~np.isfinite(p)) or np.any(p < 0.0) or np.any(p > 1.0):
        raise ValueError("pvalues must all lie in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted_sorted = np.maximum.accumulate(scaled)
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = adjusted_sorted
    return [float(x) for x in adjusted]
