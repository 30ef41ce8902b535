"""The regression gate: compare a candidate's result files with a baseline's.

Rules (documented for users in ``docs/regression-gate.md``):

- **What is compared**: datasets present on both sides, and within them the subsets present on both
  sides. A dataset's score is the unweighted mean over its common subsets; the headline is the
  unweighted mean over common datasets. Everything present on one side only is listed in the report.
- **Settings**: the two sides must share every *evaluation setting*
  (:func:`jinavdr.results.identity.evaluation_settings`, the rule resume and merge use too, less the
  model identity): protocol, main metric, dataset repo and revision, dtype, every model option recorded
  in ``manifest.settings`` and every run option in ``manifest.run_options`` (ranking depth, ...; not
  the informational ``scoring`` record). Local data (a folder, the sample) is identified by its
  content revision (``sha256:...``), not its path. Model identity (adapter, model id, revision, slug)
  and the environment (versions, device, batch sizes) are shown but never compared. A difference
  raises :class:`SettingsMismatchError` (exit code 2) unless ``force``.
- **Tests**: a paired sign-flip randomisation test (:func:`jinavdr.evaluation.aggregate.paired_test`)
  on per-query main-metric values, pairing by (subset, query id). Each query's difference is weighted
  as it weighs in the reported mean (``1 / (#subsets x #queries of its subset)`` for a dataset, divided
  again by #datasets for the headline), so the tested statistic *is* the reported delta. Dataset
  p-values are Holm-adjusted across the tested datasets; the headline test is a single test.
  Subsets without per-query values are not tested (reported as such).
- **Verdict** (exit code 1 on any failure):
  the headline drop exceeds ``max_drop_points`` points; with ``per_dataset`` a dataset's drop exceeds it;
  a *significant* drop (p < alpha, delta < 0) of the headline or of a dataset fails even when smaller
  than ``max_drop_points`` (labelled "significant drop (small)"), unless smaller than ``min_effect_points`` points;
  with ``require_complete`` a baseline subset missing from the candidate fails; with ``exact`` any
  change of any recorded metric, per-query value or count beyond ``tolerance`` fails, either way, and
  so does a dataset or subset present on one side only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from jinavdr.catalogue.loaders import is_content_revision
from jinavdr.errors import ArgumentError, ResultsError
from jinavdr.evaluation.aggregate import PairedQueries, holm_bonferroni, mean, pair_queries, paired_test
from jinavdr.report.format import in_points, p_phrase, to_points
from jinavdr.results.identity import differences, evaluation_settings
from jinavdr.results.schema import ResultFile, SubsetResult
from jinavdr.results.validate import validate_result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Comparison",
    "DatasetComparison",
    "GateOptions",
    "MeanComparison",
    "SettingDifference",
    "SettingsMismatchError",
    "SubsetComparison",
    "compare",
    "setting_differences",
]

#: Slack (in points) when testing "drop beyond tolerance", so float noise never fails a gate.
_POINTS_EPS = 1e-9


class SettingsMismatchError(ResultsError):
    """Baseline and candidate were evaluated with different settings (exit code 2)."""

    def cli_message(self) -> str:
        return str(self).replace("pass force=True", "pass --force")


# --------------------------------------------------------------------------------------------------
# Options and results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateOptions:
    """Thresholds of the gate. Points are main-metric x100 (nDCG@5 points)."""

    max_drop_points: float = 0.5
    alpha: float = 0.05
    per_dataset: bool = False
    min_effect_points: float = 0.0
    exact: bool = False
    tolerance: float = 1e-6  # on the fraction scale, for ``exact``
    require_complete: bool = False
    force: bool = False
    n_resamples: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            ("max_drop_points", "--max-drop", self.max_drop_points >= 0, f"must be >= 0 points, got {self.max_drop_points}."),
            ("alpha", "--alpha", 0.0 < self.alpha < 1.0, f"must be strictly between 0 and 1, got {self.alpha}."),
            ("min_effect_points", "--min-effect", self.min_effect_points >= 0,
             f"must be >= 0 points, got {self.min_effect_points}."),
            ("tolerance", "--tolerance", self.tolerance >= 0, f"must be >= 0, got {self.tolerance}."),
            ("n_resamples", "--n-resamples", self.n_resamples >= 1, f"must be >= 1, got {self.n_resamples}."),
        )
        for argument, flag, ok, problem in checks:
            if not ok:
                raise ArgumentError(argument, problem, flag=flag)


@dataclass(frozen=True)
class SettingDifference:
    """One evaluation setting whose value differs, and the datasets where it does."""

    name: str
    baseline: Any
    candidate: Any
    datasets: tuple[str, ...]
    n_compared: int = 0  # datasets compared in all (to say "all N datasets")

    def describe(self) -> str:
        if len(self.datasets) == self.n_compared and self.n_compared > 1:
            where = f"all {self.n_compared} datasets"
        else:
            where = ", ".join(self.datasets)
        return f"{self.name}: {self.baseline!r} (baseline) vs {self.candidate!r} (candidate) [{where}]"


@dataclass(frozen=True)
class SubsetComparison:
    dataset: str
    subset: str
    baseline: float  # main metric, fraction
    candidate: float
    n_queries: tuple[int, int]  # (baseline, candidate) as recorded
    paired: PairedQueries | None  # None: no per-query values on one side
    untested_reason: str | None
    p_value: float | None  # unadjusted, informational
    changes: tuple[str, ...]  # what moved beyond the tolerance (exact mode only)

    @property
    def delta_points(self) -> float:
        """Candidate minus baseline, in points (x100; ``baseline``/``candidate`` are fractions)."""
        return to_points(self.candidate - self.baseline)

    @property
    def name(self) -> str:
        return f"{self.dataset}:{self.subset}"


@dataclass(frozen=True)
class MeanComparison:
    """The verdict on one mean (a dataset's or the headline's)."""

    baseline: float  # fraction
    candidate: float
    p_value: float | None  # for a dataset: unadjusted
    p_adjusted: float | None  # for a dataset: Holm-adjusted; for the headline: equals p_value
    n_tested_queries: int
    label: str
    status: str  # "pass", "warn" or "fail"
    failures: tuple[str, ...]

    @property
    def delta_points(self) -> float:
        """Candidate minus baseline, in points (x100; ``baseline``/``candidate`` are fractions)."""
        return to_points(self.candidate - self.baseline)


@dataclass(frozen=True)
class DatasetComparison:
    dataset: str
    subsets: tuple[SubsetComparison, ...]  # the common subsets
    verdict: MeanComparison


@dataclass(frozen=True)
class Comparison:
    """Everything the gate found; ``passed`` / ``exit_code`` give the verdict."""

    options: GateOptions
    main_metric: str
    datasets: tuple[DatasetComparison, ...]
    overall: MeanComparison
    #: What one side has and the other lacks: a dataset name, or ``dataset:subset``.
    baseline_only: tuple[str, ...]
    candidate_only: tuple[str, ...]
    forced_differences: tuple[SettingDifference, ...]
    baseline: tuple[ResultFile, ...] = field(repr=False)
    candidate: tuple[ResultFile, ...] = field(repr=False)

    @property
    def failures(self) -> list[str]:
        out = list(self.overall.failures)
        for ds in self.datasets:
            out.extend(ds.verdict.failures)
        if self.options.require_complete or self.options.exact:
            out.extend(f"{name}: in the baseline but missing from the candidate" for name in self.baseline_only)
        if self.options.exact:
            out.extend(f"{name}: in the candidate but not in the baseline" for name in self.candidate_only)
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_pandas(self, *, catalogue: Any | None = None) -> pd.DataFrame:
        """One row per compared dataset x subset (:func:`jinavdr.report.frames.comparison_frame`)."""
        from jinavdr.report.frames import comparison_frame

        return comparison_frame(self, catalogue=catalogue)


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def _by_dataset(results: Iterable[ResultFile], side: str) -> dict[str, ResultFile]:
    out: dict[str, ResultFile] = {}
    for rf in results:
        if rf.dataset in out:
            models = sorted({out[rf.dataset].model_slug, rf.model_slug})
            raise ResultsError(
                f"the {side} holds more than one result file for dataset {rf.dataset!r} (models: "
                f"{', '.join(models)}). Pass one model's folder (results/<model-slug>) or single files."
            )
        out[rf.dataset] = rf
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


def setting_differences(baseline: ResultFile, candidate: ResultFile) -> list[tuple[str, Any, Any]]:
    """``(setting, baseline value, candidate value)`` for each evaluation setting that differs, by name."""
    found = differences(evaluation_settings(baseline), evaluation_settings(candidate))
    return sorted(found, key=lambda d: d[0])


def _changed_content_hint(differences: Sequence[SettingDifference]) -> str:
    """A line naming the local datasets whose files differ (both sides have content revisions)."""
    changed = [
        ds
        for d in differences
        if d.name == "dataset_revision" and is_content_revision(d.baseline) and is_content_revision(d.candidate)
        for ds in d.datasets
    ]
    if not changed:
        return ""
    return (
        f"The local data of {', '.join(sorted(changed))} differs between the two runs (another content "
        "revision: its parquet files changed), so they did not score the same queries and pages.\n"
    )


def _collect_differences(pairs: dict[str, tuple[ResultFile, ResultFile]]) -> list[SettingDifference]:
    grouped: dict[tuple[str, str, str], list[str]] = {}
    values: dict[tuple[str, str, str], tuple[Any, Any]] = {}
    for dataset, (b, c) in pairs.items():
        for name, old, new in setting_differences(b, c):
            key = (name, json.dumps(old, sort_keys=True), json.dumps(new, sort_keys=True))
            grouped.setdefault(key, []).append(dataset)
            values[key] = (old, new)
    return [
        SettingDifference(
            name=key[0], baseline=values[key][0], candidate=values[key][1], datasets=tuple(ds), n_compared=len(pairs)
        )
        for key, ds in grouped.items()
    ]


# --------------------------------------------------------------------------------------------------
# Per-subset pairing
# --------------------------------------------------------------------------------------------------


def _pair(dataset: str, b: SubsetResult, c: SubsetResult, metric: str) -> tuple[PairedQueries | None, str | None]:
    for side, sub in (("baseline", b), ("candidate", c)):
        pq = sub.per_query
        if pq is None or not pq.values:
            return None, f"no per-query values in the {side}"
        if pq.metric != metric:
            return None, f"the {side}'s per-query values are {pq.metric}, not {metric}"
    paired = pair_queries(dataset, b.subset, b.per_query.as_dict(), c.per_query.as_dict())  # type: ignore[union-attr]
    return (None, "no query id in common") if paired is None else (paired, None)


def _changes(b: SubsetResult, c: SubsetResult, paired: PairedQueries | None, tol: float) -> tuple[str, ...]:
    """What moved beyond ``tol`` between two runs of one subset (metrics, per-query values, counts)."""
    out = []
    for key in sorted(set(b.metrics) | set(c.metrics)):
        old, new = b.metrics.get(key), c.metrics.get(key)
        if old is None or new is None:
            out.append(f"{key} {'absent' if old is None else f'{old:.6f}'} -> {'absent' if new is None else f'{new:.6f}'}")
        elif abs(new - old) > tol:
            out.append(f"{key} {old:.6f} -> {new:.6f}")
    for key in ("n_queries", "n_pages", "n_qrels", "dropped_queries"):
        old, new = getattr(b, key), getattr(c, key)
        if old != new:
            out.append(f"{key} {old} -> {new}")
    if paired is not None:
        moved = np.abs(paired.differences) > tol
        if moved.any():
            out.append(f"per-query {b.per_query.metric} of {int(moved.sum())} queries")  # type: ignore[union-attr]
        if paired.a_only or paired.b_only:
            out.append(f"query ids ({paired.a_only} only in baseline, {paired.b_only} only in candidate)")
    return tuple(out)


def _compare_subset(dataset: str, b: SubsetResult, c: SubsetResult, metric: str, opts: GateOptions) -> SubsetComparison:
    for side, sub in (("baseline", b), ("candidate", c)):
        if metric not in sub.metrics:
            raise ResultsError(f"{side} subset {dataset}:{sub.subset} has no {metric!r} metric; cannot compare.")
    paired, reason = _pair(dataset, b, c, metric)
    p = None if paired is None else paired_test([paired], n_resamples=opts.n_resamples, seed=opts.seed)[0]
    return SubsetComparison(
        dataset=dataset,
        subset=b.subset,
        baseline=b.metrics[metric],
        candidate=c.metrics[metric],
        n_queries=(b.n_queries, c.n_queries),
        paired=paired,
        untested_reason=reason,
        p_value=p,
        changes=_changes(b, c, paired, opts.tolerance) if opts.exact else (),
    )


# --------------------------------------------------------------------------------------------------
# Weighted pooled tests and verdicts
# --------------------------------------------------------------------------------------------------


def _verdict(
    what: str,
    baseline: float,
    candidate: float,
    p: float | None,
    p_adj: float | None,
    n_tested: int,
    opts: GateOptions,
    *,
    gate_tolerance: bool,
    exact_changes: Sequence[str] = (),
) -> MeanComparison:
    delta = to_points(candidate - baseline)
    drop = -delta
    beyond = drop > opts.max_drop_points + _POINTS_EPS
    significant = p_adj is not None and p_adj < opts.alpha
    failures: list[str] = []
    warn = False
    if beyond:
        if gate_tolerance:
            failures.append(f"{what}: drop of {in_points(drop)} points exceeds the tolerance of {in_points(opts.max_drop_points)} points")
        else:
            warn = True
    if significant and delta < 0:
        if drop < opts.min_effect_points:
            label, warn = "significant drop below --min-effect (ignored)", True
        else:
            label = "significant drop" + ("" if beyond else " (small)")
            failures.append(
                f"{what}: significant drop of {in_points(drop)} points ({p_phrase(p_adj)}, alpha {opts.alpha:g})"
            )
    elif beyond:
        label = "drop beyond tolerance" + (", not tested" if p_adj is None else ", not significant")
    elif delta < 0:
        label = "drop, not significant" if p_adj is not None else "drop within tolerance (not tested)"
    elif delta > 0:
        label = "significant gain" if significant else "gain"
    else:
        label = "unchanged"
    if exact_changes:
        label = "changed"
        failures.append(f"{what}: changed ({'; '.join(exact_changes)})")
    status = "fail" if failures else ("warn" if warn else "pass")
    return MeanComparison(
        baseline=baseline,
        candidate=candidate,
        p_value=p,
        p_adjusted=p_adj,
        n_tested_queries=n_tested,
        label=label,
        status=status,
        failures=tuple(failures),
    )


# --------------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------------


def compare(
    baseline: Sequence[ResultFile],
    candidate: Sequence[ResultFile],
    options: GateOptions | None = None,
    **thresholds: Any,
) -> Comparison:
    """Compare candidate results with baseline results on their common subsets.

    ``options`` (or its fields as keywords: ``max_drop_points=1.0, per_dataset=True``, ...) are the gate's
    thresholds, :class:`GateOptions`. Raises :class:`SettingsMismatchError` when evaluation settings
    differ (unless ``force``) and :class:`ResultsError` when there is nothing in common. See the module
    docstring for the rules.
    """
    if options is not None and thresholds:
        raise TypeError("pass either options or threshold keywords, not both")
    opts = options or GateOptions(**thresholds)
    per_dataset, force = opts.per_dataset, opts.force
    for rf in [*baseline, *candidate]:  # files were checked when read; results built in memory are checked here
        validate_result(rf, f"{rf.model_slug}/{rf.dataset}.json")
    base, cand = _by_dataset(baseline, "baseline"), _by_dataset(candidate, "candidate")
    common = [d for d in base if d in cand]
    pairs = {d: (base[d], cand[d]) for d in common}
    differences = _collect_differences(pairs)
    if differences and not force:
        lines = "\n  ".join(d.describe() for d in differences)
        raise SettingsMismatchError(
            "baseline and candidate were evaluated with different settings, so their scores are not "
            f"comparable:\n  {lines}\n{_changed_content_hint(differences)}Rerun the candidate with the "
            "baseline's settings, or pass force=True to compare anyway."
        )
    if not any(set(b.subsets) & set(c.subsets) for b, c in pairs.values()):
        raise ResultsError(
            "baseline and candidate have no subset in common: nothing to compare "
            f"(baseline datasets: {', '.join(base) or 'none'}; candidate datasets: {', '.join(cand) or 'none'})."
        )
    metric = next(iter(pairs.values()))[0].main_metric

    subset_rows: dict[str, list[SubsetComparison]] = {}
    for d, (b, c) in pairs.items():
        names = [s for s in b.subsets if s in c.subsets]
        subset_rows[d] = [_compare_subset(d, b.subsets[s], c.subsets[s], metric, opts) for s in names]
    compared = [d for d in common if subset_rows[d]]

    tested_pairs = {d: [r.paired for r in subset_rows[d] if r.paired is not None] for d in compared}
    raw_p = {d: paired_test(tested_pairs[d], n_resamples=opts.n_resamples, seed=opts.seed) for d in compared}
    tested = [d for d in compared if raw_p[d][0] is not None]
    adjusted = dict(zip(tested, holm_bonferroni([raw_p[d][0] for d in tested]), strict=True))

    datasets = []
    for d in compared:
        rows = subset_rows[d]
        b_mean, c_mean = mean(r.baseline for r in rows), mean(r.candidate for r in rows)
        p, n = raw_p[d]
        changes = [f"{r.subset}: {c}" for r in rows for c in r.changes]
        verdict = _verdict(
            d, b_mean, c_mean, p, adjusted.get(d), n, opts, gate_tolerance=per_dataset, exact_changes=changes
        )
        datasets.append(DatasetComparison(dataset=d, subsets=tuple(rows), verdict=verdict))

    all_pairs = [pair for d in compared for pair in tested_pairs[d]]
    p_all, n_all = paired_test(all_pairs, n_resamples=opts.n_resamples, seed=opts.seed)
    overall = _verdict(
        f"mean over {len(datasets)} datasets",
        mean(ds.verdict.baseline for ds in datasets),
        mean(ds.verdict.candidate for ds in datasets),
        p_all, p_all, n_all, opts, gate_tolerance=True,
    )
    return Comparison(
        options=opts,
        main_metric=metric,
        datasets=tuple(datasets),
        overall=overall,
        baseline_only=_one_sided(base, cand),
        candidate_only=_one_sided(cand, base),
        forced_differences=tuple(differences),
        baseline=tuple(baseline),
        candidate=tuple(candidate),
    )


def _one_sided(side: dict[str, ResultFile], other: dict[str, ResultFile]) -> tuple[str, ...]:
    """Datasets of ``side`` absent from ``other``, then ``dataset:subset`` names absent from it."""
    out = [d for d in side if d not in other]
    for d, rf in side.items():
        if d in other:
            out.extend(f"{d}:{s}" for s in rf.subsets if s not in other[d].subsets)
    return tuple(out)
