"""CSV: the leaderboard's tidy frame written by pandas, one row per (model, dataset, subset, metric).

Columns are :data:`jinavdr.results.frame.FRAME_COLUMNS`; ``value`` is the stored fraction in [0, 1]
(one scale per field: nothing in the file is x100). References (``reference`` true) give their
published main-metric scores per subset, and a multilingual dataset's published average as subset
``average``. Measured models give every recorded metric.
"""

from __future__ import annotations

from jinavdr.report.leaderboard import Leaderboard
from jinavdr.results.frame import FRAME_COLUMNS

__all__ = ["HEADER", "render_csv"]

HEADER = FRAME_COLUMNS


def render_csv(board: Leaderboard) -> str:
    """The tidy frame in the leaderboard's column order (measured models first, then references)."""
    frame = board.to_pandas()
    order = {c.label: i for i, c in enumerate(board.columns)}
    frame = frame.sort_values(
        ["model", "dataset", "subset", "metric"], key=lambda s: s.map(order) if s.name == "model" else s,
        kind="stable",
    )
    return frame.to_csv(index=False, lineterminator="\n")
