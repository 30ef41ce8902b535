"""Progress of a run for Python users: one tqdm bar over the subsets (a widget in notebooks).

:func:`jinavdr.api.run` uses it when no ``events`` are given and progress is wanted (by default:
in a notebook, or when stderr is a terminal). The CLI draws its own rich progress instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from jinavdr.catalogue.tasks import MAIN_METRIC
from jinavdr.execution.runner import Events, Failure, WorkUnit
from jinavdr.results.schema import SubsetResult

__all__ = ["TqdmEvents", "in_notebook", "wants_progress"]

_LABEL = "nDCG@5" if MAIN_METRIC == "ndcg_at_5" else MAIN_METRIC


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell that is not a terminal)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()  # type: ignore[attr-defined]
    except AttributeError:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def wants_progress(progress: bool | None) -> bool:
    """``progress`` as given, or by default: in a notebook or on a terminal's stderr."""
    if progress is not None:
        return progress
    return in_notebook() or bool(getattr(sys.stderr, "isatty", lambda: False)())


class TqdmEvents(Events):
    """Runner events drawn as one ``tqdm.auto`` bar: subsets done of those to run, the current
    subset and stage, and each finished subset's main score (x100)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def planned(self, todo: Sequence[WorkUnit], done: Sequence[WorkUnit]) -> None:
        from tqdm.auto import tqdm

        self.close()
        if todo:
            self._bar = tqdm(total=len(todo), unit="subset", desc=f"{len(done)} done before; running")

    def model_loading(self, name: str) -> None:
        if self._bar is not None:
            self._bar.set_description(f"loading {name}")

    def unit_started(self, unit: WorkUnit, index: int, total: int) -> None:
        if self._bar is not None:
            self._bar.set_description(unit.key)

    def stage(self, unit: WorkUnit, stage: str, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"{stage} {done}/{total}")

    def unit_finished(self, unit: WorkUnit, result: SubsetResult) -> None:
        if self._bar is not None:
            score = result.metrics.get(MAIN_METRIC)
            self._bar.set_postfix_str("" if score is None else f"{unit.key} {score * 100:.2f} ({_LABEL} x100)")
            self._bar.update(1)

    def unit_failed(self, unit: WorkUnit, failure: Failure) -> None:
        if self._bar is not None:
            self._bar.write(f"failed: {failure}")
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
