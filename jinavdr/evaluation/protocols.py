"""Evaluation protocols: where a subset's data comes from and how a ranking becomes the numbers a
harness reports. Everything that differs between the two protocols lives on the protocol object
(:class:`EvaluationProtocol`); no other module branches on a protocol's name.

* ``beir`` (default): MTEB's semantics on the BEIR copies. All qrels, graded; the corpus as given;
  ranking depth 100 (every reported cutoff is <= 100, and :func:`jinavdr.engine.scoring.rank` breaks ties
  in trec_eval's order, so these metrics equal those of the full ranking); means not rounded;
  cutoffs 1, 3, 5, 10, 20, 100.
* ``paper``: the jina-vdr scripts' semantics on the QA copies, quirks included (jina-vdr's
  ``ViDoReEvaluatorQA`` and ``CustomRetrievalEvaluator``):

  - the full corpus is ranked; page rows sharing a document (``Corpus.group_ids``, the
    ``image_filename``) merge by their maximum score;
  - merged scores below 0 become 0, except for the document of the corpus's first row: jina-vdr's
    loop starts each new document at 0 (``max(results.get(filename, 0), score)``) but creates the
    query's result dict from the first row's raw score;
  - a result whose document id equals the query's id is dropped (jina-vdr keys queries by their text
    and documents by file name, and passes ``ignore_identical_ids=True``), except for a lexical
    searcher (jina-vdr's BM25 branch does not pass it);
  - cutoffs 1, 3, 5, 10, 20, 50, 100; nDCG, MAP, recall and precision means rounded to 5 decimals,
    MRR means not rounded (jina-vdr averages MRR itself);
  - MRR ranks tied documents in jina-vdr's order: a stable sort by score, so ties keep the order in
    which the documents first appear in the corpus (trec_eval's doc-id order is used for the rest).

The protocol name is recorded in every result file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from jinavdr.catalogue.dataset import Qrels
from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL
from jinavdr.errors import ArgumentError, UnknownNameError
from jinavdr.evaluation.metrics import K_VALUES, Evaluation, evaluate
from jinavdr.models.ranking import Run, trec_tie_order

if TYPE_CHECKING:
    from jinavdr.catalogue.dataset import Corpus, Queries, Subset
    from jinavdr.catalogue.tasks import SubsetSpec, TaskSpec

#: jina-vdr's cutoffs (``CustomRetrievalEvaluator.k_values``)
PAPER_K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 20, 50, 100)


@dataclass(frozen=True)
class EvaluationProtocol:
    """A named evaluation protocol (see the module docstring)."""

    name: str
    description: str
    #: pages ranked per query (the scorer's k); None = every page of the corpus
    depth: int | None
    #: means are rounded to this many decimals (None = not rounded)
    round_digits: int | None
    #: turns the scorer's run over corpus rows into the run that is evaluated
    postprocess: Callable[[Run, Corpus | None], Run]
    #: which copy of a dataset is read: the BEIR copy (task files) or the QA copy (``qa_repo``)
    source: Literal["beir", "qa"] = "beir"
    #: the metric cutoffs the protocol reports
    k_values: tuple[int, ...] = K_VALUES
    #: metric families whose means are never rounded
    unrounded: tuple[str, ...] = ()
    #: drop results whose document id equals the query's text (embedding models only)
    ignore_identical_ids: bool = False
    #: MRR tie order: trec_eval's (doc id descending) or jina-vdr's (first appearance in the corpus)
    mrr_ties: Literal["trec", "corpus"] = "trec"

    # -- data --------------------------------------------------------------------------------------

    def check_tasks(self, tasks: Iterable[TaskSpec]) -> None:
        """Refuse tasks this protocol cannot read (the QA protocol needs a QA copy)."""
        if self.source != "qa":
            return
        no_qa = [task.name for task in tasks if not task.qa_repo]
        if no_qa:
            raise ArgumentError(
                "protocol",
                f"{self.name!r} reads the QA copies of the datasets, and {', '.join(no_qa)} "
                f"{'has' if len(no_qa) == 1 else 'have'} none (local folders and the sample use the BEIR "
                "layout). Use protocol 'beir' for them.",
            )

    def recorded_source(self, task: TaskSpec) -> tuple[str, str | None]:
        """``(dataset_repo, dataset_revision)`` a result file records before the subset loads (the QA
        copies are not pinned: their commit is resolved when they load)."""
        if self.source == "qa":
            return task.qa_repo or "", None
        from jinavdr.catalogue.loaders import recorded_source

        return recorded_source(task)

    def load_subset(self, task: TaskSpec, subset: SubsetSpec, *, strict: bool = False) -> Subset:
        """One subset as this protocol reads it."""
        from jinavdr.catalogue import loaders

        if self.source == "qa":
            return loaders.load_qa_subset(task, subset)
        return loaders.load_subset(task, subset, strict=strict)

    @property
    def counts_from_task_files(self) -> bool:
        """Whether the task files' query/page counts are this protocol's (not for the QA copies)."""
        return self.source == "beir"

    # -- scoring -----------------------------------------------------------------------------------

    def cutoffs(self, depth: int | None) -> tuple[int, ...]:
        """The reported cutoffs a ranking of ``depth`` pages supports (all for the full corpus)."""
        return tuple(k for k in self.k_values if depth is None or k <= depth)

    def evaluate(
        self,
        run: Run,
        qrels: Qrels | Mapping[str, Mapping[str, int]],
        *,
        corpus: Corpus | None = None,
        queries: Queries | None = None,
        k_values: Sequence[int] | None = None,
        lexical: bool = False,
    ) -> Evaluation:
        """Post-process ``run``, evaluate it, round the means as the protocol says.

        ``queries`` gives the query texts (the ids jina-vdr compares with document ids); ``lexical``
        says the ranking came from a lexical searcher (jina-vdr keeps identical ids for BM25).
        """
        k_values = tuple(self.k_values if k_values is None else k_values)
        if self.depth is not None and max(k_values) > self.depth:
            raise ValueError(
                f"protocol {self.name!r} ranks {self.depth} pages per query, too few for a cutoff of "
                f"{max(k_values)}; use cutoffs <= {self.depth}"
            )
        processed = self.postprocess(run, corpus)
        if self.ignore_identical_ids and not lexical and queries is not None:
            processed = drop_identical_ids(processed, dict(zip(queries.ids, queries.texts, strict=True)))
        result = evaluate(processed, qrels, k_values=k_values)
        if self.mrr_ties == "corpus":
            result = with_mrr(result, processed, qrels, first_seen_order(processed.doc_ids, corpus))
        return self._round(result)

    def _round(self, result: Evaluation) -> Evaluation:
        if self.round_digits is None:
            return result
        keep = tuple(f"{family}_at_" for family in self.unrounded)
        means = {
            name: value if name.startswith(keep) else round(value, self.round_digits)
            for name, value in result.metrics.items()
        }
        return Evaluation(means, result.query_ids, result.columns, result.k_values, result.dropped_queries)

    def settings(self) -> dict[str, Any]:
        """What a result file records about the protocol."""
        return {"protocol": self.name, "depth": self.depth, "round_digits": self.round_digits}


def _unchanged(run: Run, corpus: Corpus | None) -> Run:
    return run


def merge_groups(
    run: Run, group_ids: Sequence[str] | None, *, floor: float | None = 0.0, floor_first_row: bool = True
) -> Run:
    """jina-vdr's result building: per query, a document's score is the max over its rows' scores,
    raised to ``floor`` when below it (jina-vdr starts each new document at 0); rows in trec_eval order.

    ``floor_first_row=False`` leaves the document of corpus row 0 unfloored, as jina-vdr's loop does
    (it creates the query's result dict from that row's raw score). ``group_ids[i]`` is the document
    of ``run.doc_ids[i]`` (None: each row is its own document). The run must rank every row for every
    query (depth = full corpus).
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
        floored = np.maximum(merged, np.float32(floor))
        if not floor_first_row and n_rows:
            first = position[groups[0]]
            floored[:, first] = merged[:, first]
        merged = floored
    merged = merged + np.float32(0.0)  # -0.0 ties with 0.0, as in trec_eval

    prio = np.broadcast_to(trec_tie_order(names), merged.shape)
    order = np.lexsort((prio, -merged), axis=1)
    return Run(list(run.query_ids), names, order.astype(np.int64), np.take_along_axis(merged, order, 1))


def drop_identical_ids(run: Run, query_texts: Mapping[str, str]) -> Run:
    """``run`` without the results whose document id equals the query's text (marked -1, moved last)."""
    doc_position = {d: i for i, d in enumerate(run.doc_ids)}
    hits = [(qi, doc_position[t]) for qi, q in enumerate(run.query_ids)
            if (t := query_texts.get(q)) is not None and t in doc_position]  # fmt: skip
    if not hits:
        return run
    indices, scores = run.indices.copy(), run.scores.copy()
    for qi, page in hits:
        indices[qi, indices[qi] == page] = -1
    missing = indices < 0
    order = np.argsort(missing, axis=1, kind="stable")  # kept results in their order, then the -1s
    indices = np.take_along_axis(indices, order, 1)
    scores = np.where(np.take_along_axis(missing, order, 1), -np.inf, np.take_along_axis(scores, order, 1))
    return Run(list(run.query_ids), list(run.doc_ids), indices, scores.astype(np.float32))


def first_seen_order(doc_ids: Sequence[str], corpus: Corpus | None) -> np.ndarray:
    """Per document of ``doc_ids``, the corpus row where it first appears (jina-vdr's dict order)."""
    groups = list(doc_ids) if corpus is None or corpus.group_ids is None else [str(g) for g in corpus.group_ids]
    first: dict[str, int] = {}
    for i, g in enumerate(groups):
        first.setdefault(g, i)
    return np.array([first.get(d, len(groups) + i) for i, d in enumerate(doc_ids)], dtype=np.int64)


def with_mrr(
    result: Evaluation, run: Run, qrels: Qrels | Mapping[str, Mapping[str, int]], tie_order: np.ndarray
) -> Evaluation:
    """``result`` with MRR@k recomputed over ``run`` with score ties in ``tie_order`` (lower first),
    as MTEB 1.16's ``mrr`` (a stable ``sorted`` of the result dict) does for jina-vdr."""
    relevance = qrels.relevance if isinstance(qrels, Qrels) else qrels
    row_of = {q: i for i, q in enumerate(run.query_ids)}
    mrr_names = [f"mrr_at_{k}" for k in result.k_values]
    columns = {name: list(values) for name, values in result.columns.items()}
    for name in mrr_names:
        columns[name] = []
    for qid in result.query_ids:
        first = _first_relevant_rank(run, row_of.get(qid), relevance.get(qid, {}), tie_order)
        for k, name in zip(result.k_values, mrr_names, strict=True):
            columns[name].append(1.0 / first if first is not None and first <= k else 0.0)
    means = dict(result.metrics)
    for name in mrr_names:
        means[name] = sum(columns[name]) / len(columns[name])
    ordered = {name: columns[name] for name in result.columns}
    return Evaluation(means, result.query_ids, ordered, result.k_values, result.dropped_queries)


def _first_relevant_rank(
    run: Run, row: int | None, relevance: Mapping[str, int], tie_order: np.ndarray
) -> int | None:
    if row is None:
        return None
    valid = run.indices[row] >= 0
    idx, sc = run.indices[row][valid], run.scores[row][valid]
    order = np.lexsort((tie_order[idx], -sc))
    relevant = {d for d, g in relevance.items() if g > 0}
    for rank, i in enumerate(idx[order], start=1):
        if run.doc_ids[int(i)] in relevant:
            return rank
    return None


def _paper_postprocess(run: Run, corpus: Corpus | None) -> Run:
    return merge_groups(run, None if corpus is None else corpus.group_ids, floor_first_row=False)


PROTOCOLS: dict[str, EvaluationProtocol] = {
    "beir": EvaluationProtocol(
        name="beir",
        description=(
            "MTEB semantics on the BEIR copies: all qrels (graded), corpus as given, top-100 ranking "
            "with trec_eval tie order, means unrounded"
        ),
        depth=100,
        round_digits=None,
        postprocess=_unchanged,
    ),
    "paper": EvaluationProtocol(
        name="paper",
        description=(
            "jina-vdr semantics on the QA copies: full-corpus ranking, rows of one image_filename merged "
            "by max score, negative scores clamped to 0 (not the first row's document), identical "
            "query/document ids dropped, MRR ties in corpus order, k up to 100 incl. 50, means rounded to "
            "5 decimals (MRR unrounded)"
        ),
        depth=None,
        round_digits=5,
        postprocess=_paper_postprocess,
        source="qa",
        k_values=PAPER_K_VALUES,
        unrounded=("mrr",),
        ignore_identical_ids=True,
        mrr_ties="corpus",
    ),
}


def get_protocol(name: str = DEFAULT_PROTOCOL) -> EvaluationProtocol:
    """The protocol called ``name``; :class:`UnknownNameError` lists the valid names."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownNameError("protocol", name, PROTOCOLS) from None
