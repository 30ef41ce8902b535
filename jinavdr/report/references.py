"""Published reference numbers (the jina-embeddings-v4 paper) for the leaderboard.

The table is ``leaderboard/paper-scores.csv``: one row per (dataset, subset, model) with nDCG@5 x100
and the table of the paper it comes from. ``subset`` is ``default`` for a single-language dataset,
a language code for a subset of a multilingual one, and ``average`` for the paper's own per-dataset
average of a multilingual dataset. Values are converted to fractions on load, like result files.

A measured model is shown next to its published counterpart either by an explicit mapping
(``--reference jina-v4=jina-embeddings-v4 (single-vector)``) or automatically for the adapters the
paper evaluated (:func:`auto_reference`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from jinavdr.errors import DataError, UnknownNameError

__all__ = [
    "AVERAGE_SUBSET",
    "DEFAULT_REFERENCES_PATH",
    "REFERENCE_SUFFIX",
    "ReferenceModel",
    "auto_reference",
    "load_references",
    "parse_reference_mappings",
]

#: Where the repository keeps its copy of the paper's numbers.
DEFAULT_REFERENCES_PATH = Path(__file__).resolve().parents[2] / "leaderboard" / "paper-scores.csv"
#: The subset name under which the paper gives its own average of a multilingual dataset.
AVERAGE_SUBSET = "average"
#: Appended to a reference model's name wherever it is shown.
REFERENCE_SUFFIX = " [paper]"

_COLUMNS = ("dataset", "subset", "model", "ndcg_at_5", "source")

#: Measured adapter -> published model name (the adapters the paper evaluated, at paper settings).
_AUTO: Mapping[str, str] = MappingProxyType(
    {
        "bm25": "bm25+ocr",
        "jina-v3": "jina-embeddings-v3+ocr",
        "jina-clip-v2": "jina-clip-v2",
        "colpali-v1.2": "colpali-v1.2",
        "dse-qwen2": "dse-qwen2-2b-mrl-v1",
    }
)
_JINA_V4 = {"single": "jina-embeddings-v4 (single-vector)", "multi": "jina-embeddings-v4 (multi-vector)"}


@dataclass(frozen=True)
class ReferenceModel:
    """One published model: its per-subset scores and its per-dataset scores (fractions)."""

    name: str
    sources: tuple[str, ...]
    #: (dataset, subset) -> score for every published subset, ``average`` rows excluded.
    subsets: Mapping[tuple[str, str], float] = field(default_factory=dict)
    #: dataset -> the published dataset score (the ``default`` row or the paper's ``average`` row).
    datasets: Mapping[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name + REFERENCE_SUFFIX

    def benchmark_mean(self, datasets: Iterable[str] | None = None) -> float:
        """Unweighted mean of the published dataset scores (all of them, or the given ones)."""
        names = sorted(self.datasets) if datasets is None else list(datasets)
        missing = [d for d in names if d not in self.datasets]
        if missing:
            raise DataError(f"reference {self.name!r} has no published score for {', '.join(missing)}")
        if not names:
            raise DataError("benchmark_mean needs at least one dataset")
        return sum(self.datasets[d] for d in names) / len(names)


def _parse_value(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{where}: ndcg_at_5 {raw!r} is not a number") from None
    if not 0.0 <= value <= 100.0:
        raise DataError(f"{where}: ndcg_at_5 {value} is outside [0, 100] (the file stores x100 values)")
    return value / 100.0


def load_references(
    path: str | Path | None = None, *, rename: Callable[[str], str] | None = None
) -> dict[str, ReferenceModel]:
    """Read a reference table; returns ``{model name: ReferenceModel}`` sorted by name.

    ``rename`` maps a published dataset name to the catalogue's (the paper writes ``stanford_slide``,
    the catalogue ``stanford-slide``); names are kept as published without it. Every ``average`` row
    and every single-language
    ``default`` row becomes the dataset's published score; a multilingual dataset without an
    ``average`` row gets the unweighted mean of its languages.
    """
    path = Path(path) if path is not None else DEFAULT_REFERENCES_PATH
    if not path.is_file():
        raise DataError(
            f"reference table not found: {path}. Pass another references_path (--references PATH), or leave "
            "the published numbers out (with_references=False, --no-with-references)."
        )
    subsets: dict[str, dict[tuple[str, str], float]] = {}
    datasets: dict[str, dict[str, float]] = {}
    sources: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _COLUMNS:
            raise DataError(f"{path}: expected the columns {','.join(_COLUMNS)}, found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            dataset = rename(row["dataset"]) if rename else row["dataset"]
            model, subset = row["model"], row["subset"]
            if not (dataset and model and subset):
                raise DataError(f"{where}: dataset, subset and model must be non-empty")
            value = _parse_value(row["ndcg_at_5"], where)
            sources.setdefault(model, set()).add(row["source"])
            if subset == AVERAGE_SUBSET:
                datasets.setdefault(model, {})[dataset] = value
                continue
            key = (dataset, subset)
            if key in subsets.setdefault(model, {}):
                raise DataError(f"{where}: duplicate row for {model!r} {dataset}/{subset}")
            subsets[model][key] = value
    models: dict[str, ReferenceModel] = {}
    for model in sorted(sources):
        per_subset = subsets.get(model, {})
        per_dataset = dict(datasets.get(model, {}))
        by_dataset: dict[str, list[float]] = {}
        for (dataset, _subset), value in sorted(per_subset.items()):
            by_dataset.setdefault(dataset, []).append(value)
        for dataset, values in by_dataset.items():
            per_dataset.setdefault(dataset, sum(values) / len(values))
        models[model] = ReferenceModel(
            name=model,
            sources=tuple(sorted(sources[model])),
            subsets=MappingProxyType(dict(sorted(per_subset.items()))),
            datasets=MappingProxyType(dict(sorted(per_dataset.items()))),
        )
    return models


def auto_reference(adapter: str, settings: Mapping[str, object]) -> str | None:
    """The published model a measured adapter corresponds to, or None.

    ``jina-v4`` maps to the single- or multi-vector row by its ``vector`` setting; other settings
    (image budget, dtype, truncation) are not compared, so a mapped pair can differ in them.
    """
    if adapter == "jina-v4":
        return _JINA_V4.get(str(settings.get("vector", "multi")))
    return _AUTO.get(adapter)


def parse_reference_mappings(pairs: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """``["jina-v4=jina-embeddings-v4 (single-vector)"]`` -> ``{measured: reference}``.

    The right-hand side must be a known reference model (close matches are suggested).
    """
    known = sorted(known)
    mapping: dict[str, str] = {}
    for pair in pairs:
        measured, sep, reference = pair.partition("=")
        measured, reference = measured.strip(), reference.strip()
        if not sep or not measured or not reference:
            raise DataError(
                f"--reference {pair!r} is not of the form MODEL=REFERENCE "
                "(e.g. jina-v4=jina-embeddings-v4 (single-vector))"
            )
        if reference.endswith(REFERENCE_SUFFIX):
            reference = reference[: -len(REFERENCE_SUFFIX)]
        if reference not in known:
            raise UnknownNameError("reference model", reference, known)
        mapping[measured] = reference
    return mapping
