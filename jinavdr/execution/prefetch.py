"""Everything a run needs from the Hub, at the pinned revisions: plan, check the cache, size, download.

``jinavdr prefetch --model M --tasks T`` downloads the dataset files of every selected subset and the
model's checkpoint into the Hugging Face cache (or ``--to DIR``, used as ``HF_HOME``), so that
``HF_HUB_OFFLINE=1 jinavdr run --model M --tasks T`` runs on a machine without internet. The runner
uses :func:`missing` before a run: without the Hub, every missing item is reported at once.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinavdr import hub
from jinavdr.errors import JinaVDRError

#: Named models whose weights do not come from the Hub: BM25 has none, MiniLM's ship in a package.
NO_HUB_CHECKPOINT = {"bm25", "minilm"}


@dataclass
class Item:
    """One Hub repository at one revision and the files of it that the run reads."""

    kind: str  # "dataset" or "model"
    repo: str
    revision: str | None  # None: the model entry is unpinned (main is fetched and its commit reported)
    patterns: list[str] | None  # allow_patterns; None = the whole repository
    used_by: list[str] = field(default_factory=list)  # subsets, or the model name
    cached: bool = False
    size: int | None = None  # bytes of the selected files (None: unknown)

    @property
    def label(self) -> str:
        at = f"@{self.revision[:8]}" if self.revision else "@main (unpinned)"
        return f"{self.kind} {self.repo}{at}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "repo": self.repo, "revision": self.revision, "patterns": self.patterns,
                "used_by": self.used_by, "cached": self.cached, "size_bytes": self.size}


def dataset_items(selected: Iterable[Any]) -> list[Item]:
    """One item per Hub dataset repo of ``selected`` (catalogue selections), its subsets' files merged."""
    from jinavdr.catalogue.loaders import hub_patterns, subset_cached

    items: dict[tuple[str, str | None], Item] = {}
    for sel in selected:
        task = sel.task
        if task.is_local:
            continue
        for subset in sel.subsets:
            item = items.setdefault((task.repo, task.revision),
                                    Item("dataset", task.repo, task.revision, [], cached=True))
            patterns = hub_patterns(task, subset)
            if patterns is None:
                item.patterns = None
            elif item.patterns is not None:
                item.patterns += [p for p in patterns if p not in item.patterns]
            item.used_by.append(f"{task.name}:{subset.name}")
            item.cached = item.cached and subset_cached(task, subset)
    return list(items.values())


def model_item(spec: Any) -> Item | None:
    """The checkpoint of ``spec`` (a ModelSpec) when it comes from the Hub, else None."""
    from pathlib import Path

    if spec.adapter in NO_HUB_CHECKPOINT and spec.model_id == spec.default_model_id:
        return None
    if spec.adapter == "mteb" or spec.adapter.startswith(("python:", "entry-point:")):
        return None  # these load their own weights
    if Path(spec.model_id).expanduser().exists() or "/" not in spec.model_id:
        return None
    item = Item("model", spec.model_id, spec.revision, None, [spec.name])
    item.cached = _model_cached(spec.model_id, spec.revision)
    return item


def _model_cached(repo: str, revision: str | None) -> bool:
    from pathlib import Path

    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    if revision is None:
        ref = folder / "refs" / "main"
        revision = ref.read_text().strip() if ref.is_file() else None
    return bool(revision) and (folder / "snapshots" / revision / "config.json").exists()


def plan(spec: Any | None, selected: Sequence[Any]) -> list[Item]:
    """Every Hub item a run of ``spec`` (or no model) on ``selected`` reads, with its cache state."""
    items = dataset_items(selected)
    model = model_item(spec) if spec is not None else None
    return items + ([model] if model else [])


def missing(items: Sequence[Item]) -> list[Item]:
    return [i for i in items if not i.cached]


def estimate_sizes(items: Sequence[Item]) -> None:
    """Fill ``size`` from the Hub's file listing (one tree listing per item; None if it cannot be had)."""
    from huggingface_hub import HfApi

    api = HfApi()
    for item in items:
        try:
            files = api.list_repo_tree(item.repo, repo_type=item.kind, revision=item.revision or "main",
                                       recursive=True)
            sizes = [f.size for f in files if getattr(f, "size", None) is not None and _selected(f.path, item)]
        except Exception:  # noqa: BLE001 - the size is a courtesy; the download reports real errors
            continue
        item.size = sum(sizes)


def _selected(path: str, item: Item) -> bool:
    if item.kind == "model" and any(fnmatch.fnmatch(path, p) for p in hub.MODEL_IGNORE):
        return False
    return item.patterns is None or any(fnmatch.fnmatch(path, p) for p in item.patterns)


def fetch(items: Sequence[Item], progress: Callable[[int, Item], None] | None = None) -> list[str]:
    """Download every item (resumable; files already cached are not fetched again). Returns the commit
    of each item, in order (the resolved one for an unpinned model)."""
    commits = []
    for i, item in enumerate(items):
        if progress:
            progress(i, item)
        try:
            folder = hub.snapshot(item.repo, item.kind, item.revision, item.patterns,
                                  ignore=hub.MODEL_IGNORE if item.kind == "model" else ())
        except Exception as exc:  # noqa: BLE001 - every Hub failure names the item and what to check
            raise JinaVDRError(f"cannot download {item.label} (for {', '.join(item.used_by[:3])}): "
                               f"{type(exc).__name__}: {exc}. Check the id and revision; for a gated or "
                               "private repository log in (`hf auth login` or HF_TOKEN).") from exc
        item.cached = True
        commits.append(folder.name)
    return commits


def format_size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
