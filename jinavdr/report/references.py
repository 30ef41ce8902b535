"""Published reference numbers (the jina-embeddings-v4 paper) for the leaderboard.

The table is ``leaderboard/paper-scores.csv``: one row per (dataset, subset, model) with nDCG@5 x100
and the table of the paper it comes from. ``subset`` is ``default`` for a single-language dataset,
a language code for a subset of a multilingual one, and ``average`` for the paper's own per-dataset
average of a multilingual dataset. Values are converted to fractions on load, like result files.

A measured model is shown next to its published counterpart either by an explicit mapping
(``--reference jina-v4=jina-embeddings-v4 (single-vector)``) or automatically (:func:`pairing`), and
automatically only when it was measured with the published method: the same model, the revision
policy (the registry's pinned default checkpoint, not another checkpoint or revision) and the profile
that reproduces the paper's harness (``-o profile=paper``) with none of its settings overridden.
Otherwise the published row stands alone, and :func:`pairing` says why. The default BM25
(multilingual tokenizer, Lucene IDF) is never paired with the paper's "BM25 + OCR".
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
    "PUBLISHED_METHODS",
    "PublishedMethod",
    "pairing",
    "DEFAULT_REFERENCES_PATH",
    "REFERENCE_SUFFIX",
    "ReferenceModel",
    "auto_reference",
    "load_references",
    "parse_reference_mappings",
]



def _default_references_path() -> Path:
    """The paper's numbers: ``jinavdr/_leaderboard/`` in an installed wheel, else the checkout's
    ``leaderboard/`` (the one copy in the repository; the wheel ships it as package data)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_leaderboard" / "paper-scores.csv"
    return installed if installed.is_file() else package.parent / "leaderboard" / "paper-scores.csv"


#: Where the paper's numbers are read from by default (see :func:`_default_references_path`).
DEFAULT_REFERENCES_PATH = _default_references_path()
#: The subset name under which the paper gives its own average of a multilingual dataset.
AVERAGE_SUBSET = "average"
#: Appended to a reference model's name wherever it is shown.
REFERENCE_SUFFIX = " [paper]"

_COLUMNS = ("dataset", "subset", "model", "ndcg_at_5", "source")



@dataclass(frozen=True)
class PublishedMethod:
    """How a published row was measured, as far as a measured row must match it to be paired."""

    reference: str  # the published model name (paper-scores.csv)
    adapter: str  # the registry entry that implements it
    profile: str | None  # the profile that reproduces it (None: the entry's own settings)
    settings: Mapping[str, object] = field(default_factory=dict)  # further settings that must match


#: The paper's baselines and the measured settings that reproduce them (docs/models.md).
PUBLISHED_METHODS: tuple[PublishedMethod, ...] = (
    PublishedMethod("bm25+ocr", "bm25", "paper"),
    PublishedMethod("jina-embeddings-v3+ocr", "jina-v3", "paper"),
    PublishedMethod("jina-clip-v2", "jina-clip-v2", "paper"),
    PublishedMethod("colpali-v1.2", "colpali-v1.2", "paper"),
    PublishedMethod("dse-qwen2-2b-mrl-v1", "dse-qwen2", "paper"),
    PublishedMethod("jina-embeddings-v4 (single-vector)", "jina-v4", None,
                    {"vector": "single", "truncate_dim": None, "max_pixels": 37_788_800, "dtype": "bfloat16"}),
    PublishedMethod("jina-embeddings-v4 (multi-vector)", "jina-v4", None,
                    {"vector": "multi", "max_pixels": 37_788_800, "dtype": "bfloat16"}),
)


#: options whose default None is resolved at load time (the recorded value is the resolved one)
_AUTO_RESOLVED = ("dtype", "attn_implementation")


def pairing(adapter: str, settings: Mapping[str, object]) -> tuple[str | None, str]:
    """``(published model, "")`` when a measured row was measured with that published method, else
    ``(None, why not)`` (``why`` is empty when the paper published no such model)."""
    methods = [m for m in PUBLISHED_METHODS if m.adapter == adapter]
    if not methods:
        return None, ""
    # a model with several published rows (jina-v4 single/multi): the row of its vector type
    same_kind = [m for m in methods if m.settings.get("vector", settings.get("vector")) == settings.get("vector")]
    method = (same_kind or methods)[0]
    reason = _mismatch(method, settings)
    return (None, reason) if reason else (method.reference, "")


def _mismatch(method: PublishedMethod, settings: Mapping[str, object]) -> str:
    """Why ``settings`` are not the published method's ("" when they are)."""
    from jinavdr.models.registry import get_entry

    entry = get_entry(method.adapter)
    profile = settings.get("profile")
    if profile != method.profile:
        wanted = f"profile {method.profile!r} (-o profile={method.profile})" if method.profile else "no profile"
        return f"measured with {'profile ' + repr(profile) if profile else 'its own settings'}, not {wanted}"
    if settings.get("model_id") != entry.model_id or settings.get("revision") != entry.revision:
        return (f"measured on {settings.get('model_id')}@{settings.get('revision')}, not the pinned default "
                f"checkpoint {entry.model_id}@{entry.revision}")
    pinned = {**entry.defaults_for(method.profile), **method.settings}
    differing = sorted(
        k for k, v in pinned.items()
        if settings.get(k) != v and not (v is None and k in _AUTO_RESOLVED)
    )
    if differing:
        return "settings differ from the published method's: " + ", ".join(
            f"{k}={settings.get(k)!r} (published: {pinned[k]!r})" for k in differing)
    return ""


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
    """The published model a measured row is paired with automatically, or None (see :func:`pairing`)."""
    return pairing(adapter, settings)[0]


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
