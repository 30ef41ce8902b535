"""Job-array shards of a run (``--shard i/n``) and merging shard result folders (``jinavdr merge``).

Splitting: the selected work units (catalogue order) are assigned to ``n`` shards by greedy
longest-processing-time on each unit's expected encoding work (:func:`unit_costs`: expected pages
times the mean page area from the task file's image statistics): units in decreasing cost (ties:
catalogue order) each go to the shard with the least work so far (ties: lowest shard number).
Pixels rather than bare page counts, because a vision model at native resolution (jina-v4 with the
paper's image budget) spends its time per image token: on the 96 Jina-VDR subsets, 8 shards
balanced by page count leave the fullest with 1.30x the mean token work; balanced by pixels, 1.00x
(and 1.09x for a model that resizes every page to one size).
The split depends only on the selection, never on what is finished, so a rerun of shard ``i``
gets the same units and resumes them; every array job must use the same tasks and filters.

Merging: result files of one model slug and dataset from several folders are combined subset by
subset into one file per (slug, dataset) under the output folder. Files whose compared settings
differ are refused (as the store refuses them), as is a subset present twice with different scores;
nothing is written until every input has been checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jinavdr.errors import JinaVDRError, ResultsError

if TYPE_CHECKING:
    from jinavdr.execution.runner import WorkUnit
    from jinavdr.results.schema import ResultFile, SubsetResult

__all__ = [
    "MergeReport",
    "Shard",
    "merge",
    "missing_units",
    "parse_shard",
    "select_shard",
    "split_units",
    "unit_costs",
]

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise JinaVDRError(f"--shard {self}: the number of shards must be at least 1")
        if not 0 <= self.index < self.count:
            raise JinaVDRError(
                f"--shard {self}: the shard number must be between 0 and {self.count - 1} (0-based, "
                f"as SLURM's --array=0-{self.count - 1} numbers them)"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str | Shard | tuple[int, int]) -> Shard:
    """``"3/8"`` -> ``Shard(3, 8)``; a clear error for anything else."""
    if isinstance(text, Shard):
        return text
    if isinstance(text, tuple):
        return Shard(*text)
    match = _SHARD_RE.match(text)
    if not match:
        raise JinaVDRError(f"--shard {text!r} is not of the form i/n (for example 0/8, with i from 0 to n-1)")
    return Shard(int(match.group(1)), int(match.group(2)))


def _mean(values: Sequence[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else 1.0


def _page_area(unit: WorkUnit) -> float | None:
    images = getattr(unit.subset_spec, "images", None)
    return None if images is None else float(images.avg_w * images.avg_h)


def unit_costs(units: Sequence[WorkUnit]) -> list[float]:
    """Expected work per unit: expected pages x mean page area (pixels), from the task files.

    An unknown page count or area counts as the mean of the known ones (1 when none is known), so a
    selection without image statistics is balanced by page count, and one without counts by number.
    """
    pages = [None if u.expected_pages is None else float(u.expected_pages) for u in units]
    areas = [_page_area(u) for u in units]
    default_pages, default_area = _mean(pages), _mean(areas)
    return [(default_pages if p is None else p) * (default_area if a is None else a)
            for p, a in zip(pages, areas, strict=True)]


def split_units(units: Sequence[WorkUnit], count: int) -> list[list[WorkUnit]]:
    """Assign ``units`` to ``count`` shards (greedy LPT on :func:`unit_costs`); each shard in input order."""
    if count < 1:
        raise JinaVDRError(f"the number of shards must be at least 1, got {count}")
    costs = unit_costs(units)
    loads = [0.0] * count
    assigned: list[list[int]] = [[] for _ in range(count)]
    for i in sorted(range(len(units)), key=lambda i: (-costs[i], i)):
        target = min(range(count), key=lambda s: (loads[s], s))
        loads[target] += costs[i]
        assigned[target].append(i)
    return [[units[i] for i in sorted(idx)] for idx in assigned]


def select_shard(units: Sequence[WorkUnit], shard: str | Shard | tuple[int, int] | None) -> list[WorkUnit]:
    """The units of ``shard`` (all of them when ``shard`` is None)."""
    if shard is None:
        return list(units)
    part = parse_shard(shard)
    return split_units(units, part.count)[part.index]


# --------------------------------------------------------------------------------------------------
# Merge
# --------------------------------------------------------------------------------------------------


@dataclass
class MergeReport:
    """What :func:`merge` did."""

    out: Path
    written: list[Path] = field(default_factory=list)
    subsets: int = 0  # subsets in the written files
    duplicates: int = 0  # subsets found in more than one input with equal scores (kept once)
    inputs: int = 0  # result files read
    #: ``<model slug>/<dataset>:<subset>`` of expected units missing from the merged results
    missing: list[str] = field(default_factory=list)


@dataclass
class _Group:
    """One (model slug, dataset): the base file and the subsets gathered so far."""

    base: ResultFile
    base_path: Path
    subsets: dict[str, tuple[SubsetResult, Path]] = field(default_factory=dict)
    run_files: dict[str, Path] = field(default_factory=dict)  # relative run file -> source file


def _same_scores(a: SubsetResult, b: SubsetResult) -> bool:
    return a.metrics == b.metrics and a.per_query == b.per_query


def _add(groups: dict[tuple[str, str], _Group], path: Path, result: ResultFile, report: MergeReport) -> None:
    from jinavdr.results.store import check_compatible

    key = (result.model_slug, result.dataset)
    group = groups.get(key)
    if group is None:
        group = groups[key] = _Group(result, path)
    else:
        try:
            check_compatible(group.base, result.manifest, path)
        except ResultsError as exc:
            raise ResultsError(f"cannot merge {path} with {group.base_path}: {exc}") from None
        if result.model != group.base.model:
            raise ResultsError(f"cannot merge {path} with {group.base_path}: model {result.model!r} in one, "
                               f"{group.base.model!r} in the other")
    for name, sub in result.subsets.items():
        if name in group.subsets:
            first, where = group.subsets[name]
            if not _same_scores(first, sub):
                raise ResultsError(
                    f"subset {result.dataset}:{name} of {result.model_slug} is in {where} and in {path} with "
                    "different scores; remove it from one of them (or rerun it) before merging"
                )
            report.duplicates += 1
            continue
        group.subsets[name] = (sub, path)
        if sub.run_file:
            run_path = path.parent / sub.run_file
            if run_path.exists():
                group.run_files[sub.run_file] = run_path


def _read_inputs(sources: Sequence[Path], out: Path, report: MergeReport) -> dict[tuple[str, str], _Group]:
    """Every result file under ``out`` (first, as the base) and ``sources``, checked and grouped."""
    from jinavdr.results.store import iter_result_paths, read_result_file

    groups: dict[tuple[str, str], _Group] = {}
    seen: set[Path] = set()
    folders = ([out] if out.is_dir() else []) + list(sources)
    for folder in folders:
        for path in iter_result_paths(folder):
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            _add(groups, path, read_result_file(path), report)
            report.inputs += 1
    return groups


def _write(group: _Group, out: Path) -> Path:
    """Write the merged file under the store's lock (re-reading what another writer added meanwhile)."""
    from jinavdr.results.store import (
        ResultStore,
        check_compatible,
        file_lock,
        read_result_file,
        remove_stale_temp_files,
        write_atomic,
        write_result_file,
    )

    store = ResultStore(out)
    store.ensure_writable(group.base.model_slug)
    path = store.path(group.base.model_slug, group.base.dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        remove_stale_temp_files(path)
        subsets = {name: sub for name, (sub, _) in group.subsets.items()}
        base = group.base
        if path.exists():  # written since the check: keep its subsets
            current = read_result_file(path)
            check_compatible(current, base.manifest, path)
            subsets = {**current.subsets, **subsets}
            base = current
        merged = base.model_copy(update={"subsets": dict(sorted(subsets.items()))})
        write_result_file(path, merged)
    for rel, source in group.run_files.items():
        target = path.parent / rel
        if target.resolve() != source.resolve():
            write_atomic(target, source.read_bytes())
    return path


def merge(sources: Sequence[str | Path], out: str | Path, *, expected: Iterable[WorkUnit] | None = None) -> MergeReport:
    """Combine the result files under ``sources`` into ``out`` (``<out>/<slug>/<dataset>.json``).

    Files already in ``out`` are kept and extended. Raises :class:`ResultsError` before writing
    anything when two files of one (slug, dataset) hold other settings or one subset with different
    scores. ``expected``: the work units the shards were given (e.g. ``work_units("jinavdr")``);
    those missing from the merged results, per model slug, are listed in ``report.missing``.
    Without it, a dataset's subsets are checked against its task in the catalogue, when it has one.
    """
    out = Path(out)
    paths = [Path(s) for s in sources]
    if not paths:
        raise JinaVDRError("name at least one shard results folder to merge")
    for src in paths:
        if not src.exists():
            raise ResultsError(f"shard results path {src} does not exist")
    report = MergeReport(out=out)
    groups = _read_inputs(paths, out, report)
    if not groups:
        raise ResultsError(f"no result files found under {', '.join(map(str, paths))}")
    for key in sorted(groups):
        group = groups[key]
        report.written.append(_write(group, out))
        report.subsets += len(group.subsets)
    present = {key: set(group.subsets) for key, group in groups.items()}
    report.missing = missing_units(present, expected)
    return report


def missing_units(present: dict[tuple[str, str], set[str]], expected: Iterable[WorkUnit] | None = None) -> list[str]:
    """``slug/dataset:subset`` of expected units absent from ``present`` ((slug, dataset) -> subsets)."""
    slugs = sorted({slug for slug, _ in present})
    wanted: dict[str, list[str]] = {}
    if expected is not None:
        for unit in expected:
            wanted.setdefault(unit.dataset, []).append(unit.subset)
    else:
        wanted = _catalogue_subsets(sorted({dataset for _, dataset in present}))
    missing = []
    for slug in slugs:
        for dataset, subsets in wanted.items():
            have = present.get((slug, dataset), set())
            missing += [f"{slug}/{dataset}:{s}" for s in subsets if s not in have]
    return missing


def _catalogue_subsets(datasets: Sequence[str]) -> dict[str, list[str]]:
    """Subsets of each dataset's catalogue task (datasets unknown to the catalogue are skipped)."""
    from jinavdr.catalogue.tasks import get_task

    out = {}
    for name in datasets:
        try:
            task = get_task(name)
        except JinaVDRError:
            continue
        out[name] = [s.name for s in task.subsets]
    return out
