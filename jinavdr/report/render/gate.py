"""Markdown report of a :class:`jinavdr.report.compare.Comparison` (the gate), shaped for a pull-request comment.

Tables are drawn by tabulate (``pipe``) from escaped cells; the per-subset table is a view of the
comparison's frame (:meth:`~jinavdr.report.compare.Comparison.to_pandas`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jinavdr import __version__
from jinavdr.report.compare import Comparison, MeanComparison
from jinavdr.report.format import delta as _delta
from jinavdr.report.format import metric_label, p_phrase, to_points
from jinavdr.report.format import p_value as _p
from jinavdr.report.format import points as _pts
from jinavdr.report.render.markdown import escape, pipe_table
from jinavdr.results.identity import ABSENT, evaluation_settings
from jinavdr.results.schema import ResultFile

if TYPE_CHECKING:
    import pandas as pd

#: First line of every report: lets a CI job find and update its own earlier comment.
MARKER = "<!-- jinavdr-compare -->"
_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌"}


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _verdict_cell(v: MeanComparison) -> str:
    return f"{_ICON[v.status]} {v.label}"


def _summary(c: Comparison) -> list[str]:
    o, opts = c.overall, c.options
    metric = metric_label(c.main_metric)
    title = "no regression" if c.passed else "regression"
    lines = [MARKER, f"### {'✅' if c.passed else '❌'} Model quality ({metric}): {title}", ""]
    lines.append(
        f"Mean {metric} over **{len(c.datasets)}** common datasets: **{_pts(o.baseline)} → "
        f"{_pts(o.candidate)} ({_delta(o.delta_points)} points)**, {p_phrase(o.p_value)}."
    )
    rules = [f"tolerance {opts.max_drop_points:g} points on the mean" + (" and per dataset" if opts.per_dataset else "")]
    rules.append(f"significance alpha {opts.alpha:g} (Holm across datasets)")
    if opts.min_effect_points:
        rules.append(f"significant drops under {opts.min_effect_points:g} points ignored")
    if opts.exact:
        rules.append(f"exact mode: any change beyond {opts.tolerance:g} fails")
    if opts.require_complete:
        rules.append("every baseline subset required")
    lines.append(f"Gate: {'; '.join(rules)}.")
    if c.failures:
        lines += ["", "**Failures**", ""] + [f"- {f}" for f in c.failures]
    return lines


_DATASET_HEADERS = ("dataset", "subsets", "queries tested", "baseline", "candidate", "Δ", "p (Holm)", "verdict")
_DATASET_NUMERIC = (False, True, True, True, True, True, True, False)


def dataset_rows(c: Comparison) -> list[tuple[str, ...]]:
    """The dataset table's cells (plain text, scores x100), then the mean row (bold in markdown)."""
    rows = []
    for ds in c.datasets:
        v = ds.verdict
        rows.append(
            (ds.dataset, str(len(ds.subsets)), str(v.n_tested_queries), _pts(v.baseline), _pts(v.candidate),
             _delta(v.delta_points), _p(v.p_adjusted), _verdict_cell(v))
        )
    o = c.overall
    rows.append(
        ("mean", str(sum(len(d.subsets) for d in c.datasets)), str(o.n_tested_queries), _pts(o.baseline),
         _pts(o.candidate), _delta(o.delta_points), _p(o.p_value), _verdict_cell(o))
    )
    return rows


def _bold(text: str) -> str:
    return f"**{text}**"


def _dataset_table(c: Comparison) -> list[str]:
    rows = [[escape(x) for x in row] for row in dataset_rows(c)]
    last = rows[-1]
    for i in (0, 3, 4, 5):  # the mean row: label and scores bold
        last[i] = _bold(last[i])
    return ["", *pipe_table(_DATASET_HEADERS, rows, _DATASET_NUMERIC)]


def subset_frame(c: Comparison) -> pd.DataFrame:
    """The per-subset table as a pandas frame of the comparison's tidy rows (scores x100 as text)."""
    frame = c.to_pandas()
    queries = [
        str(b) if b == n else f"{b} / {n}"
        for b, n in zip(frame["n_queries_baseline"], frame["n_queries_candidate"], strict=True)
    ]
    return frame.assign(
        queries=queries,
        baseline=frame["baseline"].map(_pts),
        candidate=frame["candidate"].map(_pts),
        delta=frame["delta"].map(to_points).map(_delta),
        p=[_p(None if math.isnan(p) else p) for p in frame["p_value"]],
    )[["dataset", "subset", "queries", "baseline", "candidate", "delta", "p"]]


def _subset_table(c: Comparison) -> list[str]:
    frame = subset_frame(c)
    rows = [[escape(str(x)) for x in row] for row in frame.itertuples(index=False)]
    headers = ("dataset", "subset", "queries", "baseline", "candidate", "Δ", "p")
    return [
        "",
        f"<details><summary>Per-subset scores ({len(rows)} subsets; p unadjusted)</summary>",
        "",
        *pipe_table(headers, rows, (False, False, True, True, True, True, True)),
        "",
        "</details>",
    ]


def _coverage(c: Comparison) -> list[str]:
    notes = []
    if c.baseline_only:
        gated = c.options.require_complete or c.options.exact
        notes.append(
            f"{'❌' if gated else '⚠️'} In the baseline only (not compared): {_code(c.baseline_only)}"
        )
    if c.candidate_only:
        icon = "❌ " if c.options.exact else ""
        notes.append(f"{icon}In the candidate only (not compared): {_code(c.candidate_only)}")
    subsets = [s for ds in c.datasets for s in ds.subsets]
    untested = [s for s in subsets if s.paired is None]
    if untested:
        reasons = "; ".join(f"`{s.name}` ({s.untested_reason})" for s in untested)
        notes.append(f"No significance test for {len(untested)} of {len(subsets)} subsets: {reasons}")
    for s in subsets:
        p = s.paired
        if p is not None and (p.a_only or p.b_only):
            notes.append(
                f"`{s.name}`: query ids differ ({p.a_only} only in baseline, {p.b_only} only "
                f"in candidate); tested on the {len(p.query_ids)} common queries"
            )
    if not notes:
        notes.append(f"Both sides cover the same {len(subsets)} subsets, all with per-query values.")
    return ["", "**Coverage**", ""] + [f"- {n}" for n in notes]


def _values(files: Iterable[ResultFile], get: Callable[[ResultFile], Any]) -> str:
    seen = sorted({json.dumps(get(f), sort_keys=True, default=str) for f in files})
    if not seen:
        return "—"
    if len(seen) > 1:
        return f"{len(seen)} values (per dataset)"
    value = json.loads(seen[0])
    return "—" if value is None else escape(f"`{value}`")


def _settings(c: Comparison) -> list[str]:
    common = {ds.dataset for ds in c.datasets}
    base = [f for f in c.baseline if f.dataset in common]
    cand = [f for f in c.candidate if f.dataset in common]
    forced = {d.name for d in c.forced_differences}
    rows = []
    identity: list[tuple[str, Callable[[ResultFile], Any]]] = [
        ("model", lambda f: f.model_slug),
        ("model id", lambda f: f.manifest.model_id),
        ("model revision", lambda f: f.manifest.model_revision),
        ("jinavdr", lambda f: f.manifest.versions.get("jinavdr")),
        ("git commit", lambda f: f.manifest.versions.get("git_commit")),
        ("torch", lambda f: f.manifest.versions.get("torch")),
        ("device", lambda f: f.manifest.gpu_name or f.manifest.device),
    ]
    for name, get in identity:
        rows.append([escape(name), _values(base, get), _values(cand, get), "not compared"])
    keys = sorted({k for f in [*base, *cand] for k in evaluation_settings(f)})
    for key in keys:
        def get(f: ResultFile, key: str = key) -> Any:
            return evaluation_settings(f).get(key, ABSENT)

        status = "⚠️ differs (--force)" if key in forced else "same"
        rows.append([escape(key), _values(base, get), _values(cand, get), status])
    lines = ["", "<details><summary>Settings</summary>", ""]
    lines += pipe_table(("setting", "baseline", "candidate", ""), rows, (False,) * 4)
    lines += ["", "</details>"]
    if c.forced_differences:
        lines += ["", "⚠️ **Compared despite different evaluation settings (--force):**", ""]
        lines += [f"- {escape(d.describe())}" for d in c.forced_differences]
    return lines


def _method(c: Comparison) -> list[str]:
    o = c.options
    return [
        "",
        f"<sub>Paired sign-flip randomisation test on per-query {metric_label(c.main_metric)} ({o.n_resamples:,} resamples, "
        f"seed {o.seed}; exact when at most 16 queries differ), pairing by (subset, query id) and weighting each "
        f"query as it weighs in the reported mean; dataset p-values Holm-adjusted across "
        f"{sum(1 for d in c.datasets if d.verdict.p_value is not None)} tested datasets. "
        f"Scores ×100. jinavdr {__version__}.</sub>",
    ]


def render_refusal(message: str) -> str:
    """The report when no comparison was made (settings differ, unusable input): exit code 2."""
    return "\n".join(
        [MARKER, "### ❌ Model quality: not compared", "", "```", message.strip(), "```", ""]
    )


def render_markdown(c: Comparison) -> str:
    """The full report: summary, dataset table, per-subset details, coverage, settings, method."""
    parts = [_summary(c), _dataset_table(c), _subset_table(c), _coverage(c), _settings(c), _method(c)]
    return "\n".join(line for part in parts for line in part) + "\n"
