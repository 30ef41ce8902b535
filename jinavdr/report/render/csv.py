"""Long-format CSV: one row per (model, dataset, subset, metric), values x100 with two decimals.

Columns: ``model,dataset,subset,metric,value,reference``. ``subset`` ``average`` is a multilingual
dataset's score (the paper's published average for references, the unweighted mean of the subsets
for measured models, only when every subset was run). ``reference`` is ``true`` for published rows.
"""

from __future__ import annotations

import csv
import io

from jinavdr.evaluation.aggregate import mean
from jinavdr.report.format import points
from jinavdr.report.leaderboard import Column, Leaderboard
from jinavdr.report.references import AVERAGE_SUBSET

__all__ = ["HEADER", "render_csv"]

HEADER = ("model", "dataset", "subset", "metric", "value", "reference")


def _rows(column: Column, board: Leaderboard) -> list[tuple[str, str, str, str, str, str]]:
    flag = "true" if column.is_reference else "false"
    metric = board.options.metric
    out = []
    for info in sorted(board.datasets, key=lambda d: (d.name.casefold(), d.name)):
        present = [s for s in sorted(info.subsets) if (info.name, s) in column.scores]
        for subset in present:
            key = (info.name, subset)
            metrics = column.metrics.get(key) or {metric: column.scores[key]}
            for name in sorted(metrics):
                out.append((column.label, info.name, subset, name, points(metrics[name]), flag))
        if len(info.subsets) > 1:
            if column.is_reference:
                value = column.published.get(info.name)
            elif len(present) == len(info.subsets):
                value = mean(column.scores[(info.name, s)] for s in present)
            else:
                value = None
            if value is not None:
                out.append((column.label, info.name, AVERAGE_SUBSET, metric, points(value), flag))
    return out


def render_csv(board: Leaderboard) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for column in board.columns:
        writer.writerows(_rows(column, board))
    return buf.getvalue()
