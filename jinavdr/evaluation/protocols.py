"""Evaluation protocols: how a ranking becomes the numbers a harness reports.

* ``beir`` (default): MTEB's semantics on the BEIR copies. All qrels, graded; the corpus as given;
  ranking depth 100 (every reported cutoff is <= 100, and :func:`jinavdr.engine.scoring.rank` breaks ties
  in trec_eval's order, so these metrics equal those of the full ranking); means not rounded.
* ``paper``: the jina-vdr scripts' semantics on the QA copies, quirks included: the full corpus is
  ranked; page rows sharing a document (``Corpus.group_ids``, the ``image_filename``) merge by their
  maximum score; merged scores below 0 become 0; means rounded to 5 decimals.

The protocol name is recorded in every result file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL
from jinavdr.errors import UnknownNameError
from jinavdr.evaluation.metrics import K_VALUES, Evaluation, evaluate
from jinavdr.models.ranking import Run, trec_tie_order

if TYPE_CHECKING:
    from jinavdr.catalogue.dataset import Corpus, Qrels


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol (see the module docstring)."""

    name: str
    description: str
    #: pages ranked per query (the scorer's k); None = every page of the corpus
    depth: int | None
    #: means are rounded to this many decimals (None = not rounded)
    round_digits: int | None
    #: turns the scorer's run over corpus rows into the run that is evaluated
    postprocess: Callable[[Run, Corpus | None], Run]

    def evaluate(
        self,
        run: Run,
        qrels: Qrels | Mapping[str, Mapping[str, int]],
        *,
        corpus: Corpus | None = None,
        k_values: Sequence[int] = K_VALUES,
    ) -> Evaluation:
        """Post-process ``run``, evaluate it, round the means as the protocol says."""
        if self.depth is not None and max(k_values) > self.depth:
            raise ValueError(
                f"protocol {self.name!r} ranks {self.depth} pages per query, too few for a cutoff of "
                f"{max(k_values)}; use cutoffs <= {self.depth}"
            )
        result = evaluate(self.postprocess(run, corpus), qrels, k_values=k_values)
        return result if self.round_digits is None else result.rounded(self.round_digits)

    def settings(self) -> dict[str, Any]:
        """What a result file records about the protocol."""
        return {"protocol": self.name, "depth": self.depth, "round_digits": self.round_digits}


def _unchanged(run: Run, corpus: Corpus | None) -> Run:
    return run


def merge_groups(run: Run, group_ids: Sequence[str] | None, *, floor: float | None = 0.0) -> Run:
    """jina-vdr's result building: per query, a document's score is the max over its rows' scores,
    raised to ``floor`` when below it (jina-vdr starts each document at 0); rows in trec_eval order.

    ``group_ids[i]`` is the document of ``run.doc_ids[i]`` (None: each row is its own document).
    The run must rank every row for every query (depth = full corpus).
    """
    n_rows = len(run.doc_ids)
    groups = list(run.doc_ids) if group_ids is None else [str(g) for g in group_ids]
    if len(groups) != n_rows:
        raise ValueError(f"{len(groups)} group ids for {n_rows} corpus rows: they must align one to one")
    if run.depth != n_rows or (run.indices < 0).any():
        raise ValueError(
            f"merging rows by document needs every row ranked for every query (run depth {run.depth}, "
            f"{n_rows} rows); score with k=None (the paper protocol's depth)"
        )
    full = np.empty((len(run), n_rows), dtype=np.float32)
    np.put_along_axis(full, run.indices, run.scores, axis=1)

    names = sorted(set(groups))
    position = {g: i for i, g in enumerate(names)}
    gidx = np.fromiter((position[g] for g in groups), dtype=np.int64, count=n_rows)
    by_group = np.argsort(gidx, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(gidx[by_group]) != 0])
    merged = np.maximum.reduceat(full[:, by_group], starts, axis=1) if n_rows else full
    if floor is not None:
        merged = np.maximum(merged, np.float32(floor))
    merged = merged + np.float32(0.0)  # -0.0 ties with 0.0, as in trec_eval

    prio = np.broadcast_to(trec_tie_order(names), merged.shape)
    order = np.lexsort((prio, -merged), axis=1)
    return Run(list(run.query_ids), names, order.astype(np.int64), np.take_along_axis(merged, order, 1))


def _paper_postprocess(run: Run, corpus: Corpus | None) -> Run:
    return merge_groups(run, None if corpus is None else corpus.group_ids)


PROTOCOLS: dict[str, Protocol] = {
    "beir": Protocol(
        name="beir",
        description=(
            "MTEB semantics on the BEIR copies: all qrels (graded), corpus as given, top-100 ranking "
            "with trec_eval tie order, means unrounded"
        ),
        depth=100,
        round_digits=None,
        postprocess=_unchanged,
    ),
    "paper": Protocol(
        name="paper",
        description=(
            "jina-vdr semantics on the QA copies: full-corpus ranking, rows of one image_filename merged "
            "by max score, negative scores clamped to 0, means rounded to 5 decimals"
        ),
        depth=None,
        round_digits=5,
        postprocess=_paper_postprocess,
    ),
}


def get_protocol(name: str = DEFAULT_PROTOCOL) -> Protocol:
    """The protocol called ``name``; :class:`UnknownNameError` lists the valid names."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownNameError("protocol", name, PROTOCOLS) from None
