"""Aggregation of scores: subset -> dataset -> benchmark, and means per group, with explicit coverage.

Pure functions over plain data (``{key: score}`` mappings, scores as fractions), so the leaderboard can
use them on result files without importing a model or a dataset. Rules:

* dataset score = unweighted mean over its language subsets;
* benchmark score = unweighted mean over datasets (the paper's rule: a multilingual dataset counts once);
* group means (domain, document format, query format, language) = unweighted mean over the members;
* a mean knows which keys it covers and which it should: a partial mean is labelled
  (``"73.98 (41/43)"``) and :func:`difference` refuses to compare means of different coverage.
  A dataset with missing subsets counts as missing one level up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from jinavdr.errors import ResultsError

Score = float


@dataclass(frozen=True)
class Mean:
    """An unweighted mean that knows its coverage: ``covered`` of the ``expected`` keys."""

    value: float | None  # None when no expected key has a score
    covered: frozenset[str]
    expected: frozenset[str]

    @property
    def n(self) -> int:
        return len(self.covered)

    @property
    def n_expected(self) -> int:
        return len(self.expected)

    @property
    def complete(self) -> bool:
        return self.covered == self.expected

    @property
    def missing(self) -> list[str]:
        return sorted(self.expected - self.covered)

    def label(self, *, scale: float = 100.0, digits: int = 2) -> str:
        """``"80.55"`` when complete, ``"73.98 (41/43)"`` when partial, ``"n/a (0/43)"`` when empty."""
        shown = "n/a" if self.value is None else f"{self.value * scale:.{digits}f}"
        return shown if self.complete else f"{shown} ({self.n}/{self.n_expected})"


def mean_of(scores: Mapping[str, Score | Mean], expected: Iterable[str] | None = None) -> Mean:
    """Mean over the ``expected`` keys that have a score (all keys when ``expected`` is None).

    Keys outside ``expected`` are ignored; a :class:`Mean` value counts only when it is complete.
    """
    want = frozenset(scores) if expected is None else frozenset(expected)
    values = {key: _complete_value(scores[key]) for key in want if key in scores}
    values = {key: v for key, v in values.items() if v is not None}
    value = math.fsum(values.values()) / len(values) if values else None
    return Mean(value, frozenset(values), want)


def dataset_means(
    subset_scores: Mapping[str, Mapping[str, Score]],
    expected_subsets: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, Mean]:
    """``{dataset: {subset: score}}`` -> ``{dataset: Mean over its subsets}``.

    ``expected_subsets`` names each dataset's subsets (from the catalogue); datasets it lists without
    any score appear as empty means. Without it, the subsets present are taken as complete.
    """
    if expected_subsets is None:
        return {ds: mean_of(subsets) for ds, subsets in subset_scores.items()}
    return {ds: mean_of(subset_scores.get(ds, {}), subsets) for ds, subsets in expected_subsets.items()}


def benchmark_mean(dataset_scores: Mapping[str, Score | Mean], expected: Iterable[str] | None = None) -> Mean:
    """Mean over datasets; a dataset whose own mean is partial counts as missing."""
    return mean_of(dataset_scores, expected)


def group_means(
    scores: Mapping[str, Score | Mean],
    groups: Mapping[str, str | Iterable[str]] | Callable[[str], str | Iterable[str]],
    expected: Iterable[str] | None = None,
) -> dict[str, Mean]:
    """Means per group (domain, format, language, ...): ``groups`` maps a key to one or more groups.

    Each group's expected members are the ``expected`` keys (default: the scored keys) in it.
    """
    group_of = groups if callable(groups) else groups.__getitem__
    members: dict[str, set[str]] = {}
    for key in scores if expected is None else expected:
        found = group_of(key)
        for group in [found] if isinstance(found, str) else found:
            members.setdefault(group, set()).add(key)
    return {group: mean_of(scores, keys) for group, keys in sorted(members.items())}


def comparable(a: Mean, b: Mean) -> bool:
    """True when both means cover exactly the same keys (and so may be compared)."""
    return a.covered == b.covered and a.value is not None and b.value is not None


def difference(a: Mean, b: Mean) -> float:
    """``a - b``; raises :class:`ResultsError` when the two means cover different keys."""
    if not comparable(a, b):
        only_a, only_b = sorted(a.covered - b.covered), sorted(b.covered - a.covered)
        raise ResultsError(
            f"cannot compare {a.label()} with {b.label()}: they average different items "
            f"(only in the first: {_short(only_a)}; only in the second: {_short(only_b)}). "
            "Run the missing tasks, or compare over the common items only."
        )
    assert a.value is not None and b.value is not None
    return a.value - b.value


def _complete_value(score: Score | Mean) -> float | None:
    if isinstance(score, Mean):
        return score.value if score.complete else None
    return float(score)


def _short(keys: list[str], shown: int = 8) -> str:
    if not keys:
        return "none"
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
