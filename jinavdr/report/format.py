"""How numbers and metric names are shown: the one formatter of the report layer.

Scores are stored as fractions in [0, 1] and shown x100 with two decimals (points); deltas carry a
sign; p-values have four decimals with a floor of ``<0.0001``. Leaderboard, gate, renderers, charts and
the CLI format through this module (ties are decided on :func:`shown` values).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinavdr.evaluation.aggregate import Mean

_METRIC_NAMES = {"ndcg": "nDCG", "map": "MAP", "recall": "Recall", "precision": "Precision", "mrr": "MRR"}


def metric_label(metric: str) -> str:
    """``ndcg_at_5`` -> ``nDCG@5`` (unknown names are returned unchanged)."""
    name, sep, k = metric.rpartition("_at_")
    if not sep:
        return metric
    return f"{_METRIC_NAMES.get(name, name)}@{k}"


def points(fraction: float) -> str:
    """A score in [0, 1] shown in points: ``0.5012`` -> ``50.12``."""
    return f"{fraction * 100:.2f}"


def to_points(fraction: float) -> float:
    """A fraction as a number of points (x100), for arithmetic and charts."""
    return fraction * 100.0


def shown(fraction: float) -> Decimal:
    """The score as shown (x100, two decimals) as a number: equal displays are ties."""
    return Decimal(points(fraction))


def in_points(value: float | Decimal) -> str:
    """A value already in points, two decimals: ``12.3456`` -> ``12.35``."""
    return f"{value:.2f}"


def signed(value: float | Decimal) -> str:
    """A difference of shown values in points, signed, two decimals: ``+1.20``."""
    return f"{value:+.2f}"


def mean_label(mean: Mean) -> str:
    """``"80.55"`` when complete, ``"73.98 (41/43)"`` when partial, ``"n/a (0/43)"`` when empty."""
    value = "n/a" if mean.value is None else points(mean.value)
    return value if mean.complete else f"{value} ({mean.n}/{mean.n_expected})"


def delta(points: float) -> str:
    """A signed difference in points; tiny non-zero differences keep four decimals."""
    if abs(points) < 0.005:
        return "0.00" if points == 0 else f"{points:+.4f}"
    return f"{points:+.2f}"


def p_value(p: float | None) -> str:
    """A p-value for a table cell: ``0.0123``, ``<0.0001`` or ``n/a``."""
    if p is None:
        return "n/a"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def p_phrase(p: float | None) -> str:
    """``p = 0.0123``, ``p < 0.0001`` or ``not tested``."""
    if p is None:
        return "not tested"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"
