"""Markdown report of a :class:`jinavdr.report.compare.Comparison` (the gate), shaped for a pull-request comment."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from jinavdr import __version__
from jinavdr.report.compare import Comparison, MeanComparison, SubsetComparison
from jinavdr.report.format import delta as _delta
from jinavdr.report.format import metric_label, p_phrase
from jinavdr.report.format import p_value as _p
from jinavdr.report.format import points as _pts
from jinavdr.results.identity import ABSENT, evaluation_settings
from jinavdr.results.schema import ResultFile

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
        f"{_pts(o.candidate)} ({_delta(o.delta)} points)**, {p_phrase(o.p_value)}."
    )
    rules = [f"tolerance {opts.max_drop:g} points on the mean" + (" and per dataset" if opts.per_dataset else "")]
    rules.append(f"significance alpha {opts.alpha:g} (Holm across datasets)")
    if opts.min_effect:
        rules.append(f"significant drops under {opts.min_effect:g} points ignored")
    if opts.exact:
        rules.append(f"exact mode: any change beyond {opts.tolerance:g} fails")
    if opts.require_complete:
        rules.append("every baseline subset required")
    lines.append(f"Gate: {'; '.join(rules)}.")
    if c.failures:
        lines += ["", "**Failures**", ""] + [f"- {f}" for f in c.failures]
    return lines


def _dataset_table(c: Comparison) -> list[str]:
    lines = [
        "",
        "| dataset | subsets | queries tested | baseline | candidate | Δ | p (Holm) | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for ds in c.datasets:
        v = ds.verdict
        lines.append(
            f"| {ds.dataset} | {len(ds.subsets)} | {v.n_tested_queries} | {_pts(v.baseline)} | "
            f"{_pts(v.candidate)} | {_delta(v.delta)} | {_p(v.p_adjusted)} | {_verdict_cell(v)} |"
        )
    o = c.overall
    lines.append(
        f"| **mean** | {sum(len(d.subsets) for d in c.datasets)} | {o.n_tested_queries} | **{_pts(o.baseline)}** | "
        f"**{_pts(o.candidate)}** | **{_delta(o.delta)}** | {_p(o.p_value)} | {_verdict_cell(o)} |"
    )
    return lines


def _subset_row(s: SubsetComparison) -> str:
    nb, nc = s.n_queries
    queries = str(nb) if nb == nc else f"{nb} / {nc}"
    return (
        f"| {s.dataset} | {s.subset} | {queries} | {_pts(s.baseline)} | {_pts(s.candidate)} | "
        f"{_delta(s.delta)} | {_p(s.p_value)} |"
    )


def _subset_table(c: Comparison) -> list[str]:
    rows = [_subset_row(s) for ds in c.datasets for s in ds.subsets]
    return [
        "",
        f"<details><summary>Per-subset scores ({len(rows)} subsets; p unadjusted)</summary>",
        "",
        "| dataset | subset | queries | baseline | candidate | Δ | p |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
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
    return "—" if value is None else f"`{value}`"


def _settings(c: Comparison) -> list[str]:
    common = {ds.dataset for ds in c.datasets}
    base = [f for f in c.baseline if f.dataset in common]
    cand = [f for f in c.candidate if f.dataset in common]
    forced = {d.name for d in c.forced_differences}
    lines = [
        "",
        "<details><summary>Settings</summary>",
        "",
        "| setting | baseline | candidate | |",
        "|---|---|---|---|",
    ]
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
        lines.append(f"| {name} | {_values(base, get)} | {_values(cand, get)} | not compared |")
    keys = sorted({k for f in [*base, *cand] for k in evaluation_settings(f)})
    for key in keys:
        def get(f: ResultFile, key: str = key) -> Any:
            return evaluation_settings(f).get(key, ABSENT)

        status = "⚠️ differs (--force)" if key in forced else "same"
        lines.append(f"| {key} | {_values(base, get)} | {_values(cand, get)} | {status} |")
    lines += ["", "</details>"]
    if c.forced_differences:
        lines += ["", "⚠️ **Compared despite different evaluation settings (--force):**", ""]
        lines += [f"- {d.describe()}" for d in c.forced_differences]
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
