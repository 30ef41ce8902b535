"""Tests for jinavdr.evaluation.stats against hand-computed and brute-force values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinavdr.evaluation.stats import (
    bootstrap_ci,
    holm_bonferroni,
    paired_bootstrap_ci,
    paired_randomization_test,
)


def brute_force_p(a: list[float], b: list[float]) -> float:
    """Fraction of all 2**n sign patterns with |sum| >= observed |sum| (no shortcuts)."""
    d = [y - x for x, y in zip(a, b, strict=True)]
    observed = abs(sum(d))
    hits = 0
    patterns = list(itertools.product((1, -1), repeat=len(d)))
    for signs in patterns:
        if abs(sum(s * v for s, v in zip(signs, d, strict=True))) >= observed - 1e-12:
            hits += 1
    return hits / len(patterns)


# --- randomisation test -------------------------------------------------------------------------


def test_identical_inputs_give_p_one() -> None:
    a = [0.1, 0.5, 0.9, 0.3]
    assert paired_randomization_test(a, a) == 1.0
    many = list(np.linspace(0, 1, 200))
    assert paired_randomization_test(many, many) == 1.0


def test_hand_computed_exact_values() -> None:
    # d = (1, 1): patterns ++ (2), +- (0), -+ (0), -- (-2): |.| >= 2 for 2 of 4.
    assert paired_randomization_test([0, 0], [1, 1]) == 0.5
    # d = (1, 1, 1): only +++ and --- reach 3: 2 of 8.
    assert paired_randomization_test([0, 0, 0], [1, 1, 1]) == 0.25
    # d = (1, -1): observed 0, every pattern is at least as extreme.
    assert paired_randomization_test([0, 1], [1, 0]) == 1.0
    # d = (2, 1): sums 3, 1, -1, -3 -> 2 of 4.
    assert paired_randomization_test([0, 0], [2, 1]) == 0.5


def test_zero_differences_do_not_change_the_exact_p() -> None:
    # Zeros are dropped: (1, 1, 0, 0) behaves like (1, 1).
    assert paired_randomization_test([0, 0, 0.3, 0.7], [1, 1, 0.3, 0.7]) == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_enumeration_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = [round(float(x), 2) for x in rng.random(9)]
    b = [round(float(x), 2) for x in rng.random(9)]
    assert paired_randomization_test(a, b) == pytest.approx(brute_force_p(a, b), abs=1e-12)


score = st.sampled_from([0.0, 0.25, 0.38685, 0.5, 0.61315, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(score, score), min_size=1, max_size=8))
def test_exact_p_equals_brute_force_property(pairs: list[tuple[float, float]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    assert paired_randomization_test(a, b) == pytest.approx(brute_force_p(a, b), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(score, score), min_size=20, max_size=60), st.integers(0, 2**31))
def test_monte_carlo_p_is_a_valid_probability(pairs: list[tuple[float, float]], seed: int) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    p = paired_randomization_test(a, b, n_resamples=500, seed=seed, exact_max_n=0)
    assert 1 / 501 <= p <= 1.0
    assert p == paired_randomization_test(b, a, n_resamples=500, seed=seed, exact_max_n=0)


def test_exact_with_ties_equals_brute_force() -> None:
    # Equal magnitudes create exact ties between patterns; all must be counted.
    a = [0.0] * 8
    b = [0.25, -0.25, 0.25, 0.25, 0.5, -0.5, 0.25, 0.75]
    assert paired_randomization_test(a, b) == pytest.approx(brute_force_p(a, b), abs=1e-12)


def test_monte_carlo_approximates_exact() -> None:
    rng = np.random.default_rng(7)
    a = rng.random(14)
    b = a + rng.normal(0.05, 0.2, 14)
    exact = paired_randomization_test(a, b)
    approx = paired_randomization_test(a, b, exact_max_n=0, n_resamples=20_000)
    assert approx == pytest.approx(exact, abs=0.015)


def test_large_consistent_shift_is_significant() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(300)
    b = a - 0.05 - rng.random(300) * 0.01
    p = paired_randomization_test(a, b)
    assert p < 0.001
    # Monte Carlo p never reaches 0: the observed pattern counts.
    assert p == pytest.approx(1 / 10_001)


def test_symmetric_in_direction() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.random(40), rng.random(40)
    assert paired_randomization_test(a, b, seed=5) == paired_randomization_test(b, a, seed=5)


def test_deterministic_under_seed() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.random(100), rng.random(100)
    p1 = paired_randomization_test(a, b, seed=42)
    assert paired_randomization_test(a, b, seed=42) == p1
    others = {paired_randomization_test(a, b, seed=s) for s in range(5)}
    assert len(others) > 1  # the seed is really used


def test_no_difference_on_average_is_not_significant() -> None:
    rng = np.random.default_rng(12)
    a = rng.random(500)
    b = a + rng.normal(0.0, 0.1, 500)
    b = b - (b - a).mean()  # force mean difference 0
    assert paired_randomization_test(a, b) > 0.9


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_randomization_test([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="empty"):
        paired_randomization_test([], [])
    with pytest.raises(ValueError, match="NaN"):
        paired_randomization_test([float("nan")], [0.1])
    with pytest.raises(ValueError, match="n_resamples"):
        paired_randomization_test([0.1], [0.2], n_resamples=0)


# --- bootstrap ----------------------------------------------------------------------------------


def test_bootstrap_ci_contains_mean_and_is_deterministic() -> None:
    rng = np.random.default_rng(21)
    values = rng.random(200)
    lo, hi = bootstrap_ci(values, seed=3)
    assert lo < values.mean() < hi
    assert (lo, hi) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=4) != (lo, hi)


def test_bootstrap_ci_width_matches_standard_error() -> None:
    rng = np.random.default_rng(22)
    values = rng.normal(0.5, 0.1, 2_000)
    lo, hi = bootstrap_ci(values)
    se = values.std(ddof=0) / np.sqrt(values.size)
    assert hi - lo == pytest.approx(2 * 1.95996 * se, rel=0.08)


def test_bootstrap_ci_of_constant_is_a_point() -> None:
    assert bootstrap_ci([0.4] * 10) == (pytest.approx(0.4), pytest.approx(0.4))
    assert bootstrap_ci([0.7]) == (pytest.approx(0.7), pytest.approx(0.7))


def test_bootstrap_ci_narrows_with_lower_confidence() -> None:
    values = np.random.default_rng(23).random(100)
    lo95, hi95 = bootstrap_ci(values, confidence=0.95)
    lo80, hi80 = bootstrap_ci(values, confidence=0.80)
    assert lo95 <= lo80 < hi80 <= hi95
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(values, confidence=1.0)


def test_paired_bootstrap_ci_is_ci_of_differences() -> None:
    rng = np.random.default_rng(24)
    a = rng.random(150)
    b = a + rng.normal(-0.03, 0.05, 150)
    lo, hi = paired_bootstrap_ci(a, b, seed=9)
    assert lo < (b - a).mean() < hi
    assert hi < 0  # consistent drop: the interval excludes 0
    # The paired CI is exactly the bootstrap CI of the differences (same index draws).
    assert (lo, hi) == bootstrap_ci(b - a, seed=9)


def test_paired_bootstrap_ci_of_identical_inputs_is_zero() -> None:
    a = [0.2, 0.4, 0.6]
    assert paired_bootstrap_ci(a, a) == (0.0, 0.0)


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_hand_computed() -> None:
    # sorted: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04)
    assert holm_bonferroni([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # monotonicity: 0.03*3=0.09 then 0.035*2=0.07 -> raised to 0.09; capped at 1
    assert holm_bonferroni([0.03, 0.035, 0.9]) == pytest.approx([0.09, 0.09, 0.9])
    assert holm_bonferroni([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_holm_edge_cases() -> None:
    assert holm_bonferroni([]) == []
    assert holm_bonferroni([0.03]) == [0.03]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm_bonferroni([1.5])
