"""Value checks of a result file: the one place that decides whether its numbers can be right.

:func:`validate_result` runs on every read (:func:`jinavdr.results.store.read_result_file`, used by
compare, merge, leaderboard, resume and export) and before every write (the store, merge and
``jinavdr import``), so a NaN, an infinity, a score outside [0, 1] or per-query values that do not
match their queries are refused with the file and the field named, never passed on.

Rules, per subset:

- every metric is a finite number in [0, 1], and the file's main metric is present;
- ``per_query`` (when present): as many values as query ids, ids unique and non-empty, one value
  per query of the subset (``n_queries``), every value finite in [0, 1], and their mean equal to the
  subset's mean of that metric (up to float summation order, 1e-9; 5e-6 more for a protocol that
  rounds means to 5 decimals, as ``paper`` does);
- counts (queries, pages, qrels, dropped queries, duplicate qrels) are non-negative;
- timings and peak memory are finite and non-negative.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from jinavdr.errors import ResultsError
from jinavdr.results.schema import ResultFile, SubsetResult

__all__ = ["ResultValueError", "mean_tolerance", "validate_result", "validate_subset"]

#: summation-order slack between a mean over queries and the mean of the stored per-query values
_SUM_SLACK = 1e-9
#: protocols whose means are rounded to 5 decimals (see jinavdr.evaluation.protocols)
_ROUNDED_PROTOCOLS = frozenset({"paper"})


class ResultValueError(ResultsError):
    """A result file holds a value that cannot be right (NaN, out of range, inconsistent)."""


def mean_tolerance(protocol: str) -> float:
    """Largest allowed gap between a stored mean and the mean of its per-query values."""
    return _SUM_SLACK + (0.5e-5 if protocol in _ROUNDED_PROTOCOLS else 0.0)


def _bad_fraction(value: object) -> str | None:
    """Why ``value`` is not a finite number in [0, 1] (None when it is)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is {value!r}, not a number"
    if not math.isfinite(value):
        return f"is {value!r}, not a finite number"
    if not 0.0 <= value <= 1.0:
        return f"is {value!r}, outside [0, 1] (scores are stored as fractions)"
    return None


def validate_subset(sub: SubsetResult, *, main_metric: str, protocol: str) -> list[tuple[str, str]]:
    """``(field, problem)`` for each impossible value of one subset (empty when it is sound)."""
    problems: list[tuple[str, str]] = []
    if main_metric not in sub.metrics:
        problems.append(("metrics", f"has no {main_metric!r} (the file's main metric)"))
    for name, value in sub.metrics.items():
        why = _bad_fraction(value)
        if why:
            problems.append((f"metrics.{name}", why))
    for name in ("n_queries", "n_pages", "n_qrels", "dropped_queries", "duplicate_qrels"):
        if getattr(sub, name) < 0:
            problems.append((name, f"is {getattr(sub, name)}, below 0"))
    for name, value in sub.timings.model_dump().items():
        if value is not None and not (math.isfinite(value) and value >= 0):
            problems.append((f"timings.{name}", f"is {value!r}, not a finite number >= 0"))
    if sub.peak_memory_mb is not None and not (math.isfinite(sub.peak_memory_mb) and sub.peak_memory_mb >= 0):
        problems.append(("peak_memory_mb", f"is {sub.peak_memory_mb!r}, not a finite number >= 0"))
    if sub.per_query is not None:
        problems += _per_query_problems(sub, protocol)
    return problems


def _per_query_problems(sub: SubsetResult, protocol: str) -> list[tuple[str, str]]:
    pq = sub.per_query
    assert pq is not None
    ids, values = pq.query_ids, pq.values
    if len(ids) != len(values):
        return [("per_query", f"has {len(ids)} query ids but {len(values)} values")]
    problems: list[tuple[str, str]] = []
    dups = sorted(q for q, n in Counter(ids).items() if n > 1)
    if dups:
        problems.append(("per_query.query_ids", f"repeats {', '.join(map(repr, dups[:5]))}"))
    if any(not q for q in ids):
        problems.append(("per_query.query_ids", "holds an empty query id"))
    if len(ids) != sub.n_queries:
        problems.append(("per_query", f"has {len(ids)} queries but n_queries is {sub.n_queries}"))
    bad = [(q, v, why) for q, v in zip(ids, values, strict=True) if (why := _bad_fraction(v))]
    for q, _, why in bad[:5]:
        problems.append((f"per_query.values[{q!r}]", why))
    if bad or not values or pq.metric not in sub.metrics:
        return problems
    mean = math.fsum(values) / len(values)
    stored = sub.metrics[pq.metric]
    if math.isfinite(stored) and abs(mean - stored) > mean_tolerance(protocol):
        problems.append((f"metrics.{pq.metric}", f"is {stored!r} but its {len(values)} per-query values average {mean!r}"))
    return problems


_RERUN = ("Rerun the subsets named (move the file aside or rerun with --overwrite), or restore it from a "
          "good copy.")


def validate_result(result: ResultFile, path: Path | str, *, hint: str = _RERUN) -> ResultFile:
    """Return ``result`` when every value can be right; else raise :class:`ResultValueError` naming
    ``path``, the subset and the field of each problem (at most five are listed), then ``hint``."""
    problems = [
        f"subset {name!r} {field} {why}"
        for name, sub in result.subsets.items()
        for field, why in validate_subset(sub, main_metric=result.main_metric, protocol=result.protocol)
    ]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ResultValueError(
            f"result file {path} holds values that cannot be right: {'; '.join(problems[:5])}{more}. "
            f"Refusing to use it. {hint}"
        )
    return result
