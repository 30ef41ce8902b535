"""Convert between jinavdr result files and MTEB ``TaskResult`` JSON.

Export writes the layout MTEB's ``ResultCache`` reads from its ``results/`` folder::

    <out>/<model name, "/" -> "__">/<revision>/<MTEB task name>.json
    <out>/<model name, "/" -> "__">/<revision>/model_meta.json

How values map (both sides store fractions in [0, 1], so nothing is rescaled):

- our subset name (``default`` or a language code such as ``jp``) is MTEB's ``hf_subset``;
- each of our metric keys (``ndcg_at_5``, ``map_at_10``, ...) is copied under the same key, and
  ``main_score`` is our main metric (``ndcg_at_5``); the split is ``test``;
- MTEB's task score is the unweighted mean of ``main_score`` over subsets, as is ours.

Only ``beir``-protocol results are exported: that is the protocol MTEB runs (BEIR copies, all
qrels). Imported files carry no per-query values (``per_query`` is None), so significance tests
are unavailable for them; their ``manifest.source`` is ``"mteb"``.

mteb itself is not needed to export or import; when it is installed, its task metadata supplies
the ``languages`` of each subset and its model registry the richer ``model_meta.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinavdr.catalogue.tasks import MAIN_METRIC, TaskSpec
from jinavdr.errors import ResultsError
from jinavdr.results.schema import Manifest, ResultFile, SubsetResult
from jinavdr.results.validate import validate_result

SPLIT = "test"
NO_REVISION = "no_revision_available"
IMPORT_ADAPTER = "mteb-import"
#: Our metric keys; other MTEB keys (naucs, accuracy, ...) are not imported.
METRIC_KEY = re.compile(r"^(ndcg|map|recall|precision|mrr|hit_rate)_at_\d+$")

# ISO 639-3 + script of the language subsets Jina-VDR uses (fallback when mteb is not installed).
_LANGSCRIPTS = {
    "ar": "ara-Arab", "bn": "ben-Beng", "de": "deu-Latn", "en": "eng-Latn", "es": "spa-Latn",
    "fr": "fra-Latn", "hi": "hin-Deva", "hu": "hun-Latn", "id": "ind-Latn", "it": "ita-Latn",
    "jp": "jpn-Jpan", "ja": "jpn-Jpan", "ko": "kor-Hang", "my": "mya-Mymr", "nl": "nld-Latn",
    "pl": "pol-Latn", "pt": "por-Latn", "ru": "rus-Cyrl", "th": "tha-Thai", "tr": "tur-Latn",
    "ur": "urd-Arab", "vi": "vie-Latn", "zh": "zho-Hans",
}


@dataclass(frozen=True)
class TaskInfo:
    """What the conversion needs to know of one dataset (from the task catalogue)."""

    dataset: str
    mteb_name: str
    repo: str = ""
    #: expected (queries, pages, qrels) per subset; used to fill counts of imported results.
    counts: Mapping[str, tuple[int, int, int]] | None = None


# --------------------------------------------------------------------------------------------------
# Catalogue access
# --------------------------------------------------------------------------------------------------


def catalogue_tasks() -> list[TaskInfo]:
    """The task catalogue's datasets that have an MTEB name."""
    from jinavdr.catalogue.tasks import load_catalogue

    return [task_info(spec) for spec in load_catalogue() if spec.mteb_name]


def task_info(spec: TaskSpec) -> TaskInfo:
    """:class:`TaskInfo` of a catalogue :class:`~jinavdr.catalogue.tasks.TaskSpec`."""
    counts = {s.name: (int(s.queries or 0), int(s.pages or 0), int(s.qrels or 0)) for s in spec.subsets}
    return TaskInfo(dataset=spec.name, mteb_name=spec.mteb_name or "", repo=spec.repo, counts=counts)


def _by_dataset(infos: Iterable[TaskInfo]) -> dict[str, TaskInfo]:
    return {t.dataset: t for t in infos}


def _by_mteb_name(infos: Iterable[TaskInfo]) -> dict[str, TaskInfo]:
    return {t.mteb_name: t for t in infos}


# --------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------


def _model_folder(name: str) -> str:
    return name.replace("/", "__").replace(" ", "_")


def _languages(mteb_name: str, subset: str) -> list[str]:
    try:
        import mteb

        mapping = mteb.get_task(mteb_name).metadata.hf_subsets_to_langscripts
        if subset in mapping:
            return list(mapping[subset])
    except Exception:  # noqa: BLE001 - mteb absent or task unknown: fall back to our table
        pass
    if subset in _LANGSCRIPTS:
        return [_LANGSCRIPTS[subset]]
    return []


def task_result_dict(result: ResultFile, mteb_name: str) -> dict[str, Any]:
    """The MTEB ``TaskResult`` JSON object for one result file."""
    if result.protocol != "beir":
        raise ResultsError(
            f"{result.model_slug}/{result.dataset}.json was scored with protocol {result.protocol!r}; "
            "MTEB scores the BEIR copies (protocol 'beir'), so these numbers are not MTEB numbers. "
            "Rerun with --protocol beir to export."
        )
    entries = []
    seconds = 0.0
    for name, sub in sorted(result.subsets.items()):
        scores: dict[str, Any] = {k: float(v) for k, v in sorted(sub.metrics.items()) if METRIC_KEY.match(k)}
        scores["main_score"] = float(sub.metrics[result.main_metric])
        scores["hf_subset"] = name
        scores["languages"] = _languages(mteb_name, name)
        entries.append(scores)
        t = sub.timings
        seconds += t.query_encoding + t.page_encoding + t.scoring + t.evaluation
    finished = [s.finished_at for s in result.subsets.values()]
    date = _timestamp(max(finished)) if finished else None
    return {
        "dataset_revision": result.manifest.dataset_revision or NO_REVISION,
        "task_name": mteb_name,
        "mteb_version": None,
        "scores": {SPLIT: entries},
        "evaluation_time": round(seconds, 3),
        "kg_co2_emissions": None,
        "date": date,
    }


def model_meta_dict(name: str, revision: str) -> dict[str, Any]:
    """``model_meta.json``: mteb's own metadata when it knows the model, else the required fields."""
    try:
        import mteb

        meta = mteb.get_model_meta(name, revision=revision, fetch_from_hf=False)
        if meta is not None and meta.name == name:
            data = meta.to_dict()
            data["revision"] = revision
            return json.loads(json.dumps(data, default=str))
    except Exception:  # noqa: BLE001 - mteb absent or the model unknown to it
        pass
    return {
        "name": name, "revision": revision, "release_date": None, "languages": None,
        "n_parameters": None, "memory_usage_mb": None, "max_tokens": None, "embed_dim": None,
        "license": None, "open_weights": None, "public_training_code": None,
        "public_training_data": None, "framework": [], "similarity_fn_name": None,
        "use_instructions": None, "training_datasets": None, "loader": None,
        "modalities": ["text", "image"],
    }


def export_mteb(
    results: Sequence[ResultFile],
    out_dir: Path,
    *,
    model_name: str | None = None,
    tasks: Iterable[TaskInfo] | None = None,
) -> list[Path]:
    """Write ``results`` as MTEB TaskResult files under ``out_dir``; returns the written paths.

    The MTEB model name is ``model_name`` or the manifest's ``model_id``; its revision folder is the
    manifest's ``model_revision`` (``no_revision_available`` when unknown). Two result files that
    would land on the same MTEB path (e.g. two settings of one model) raise :class:`ResultsError`.
    """
    from jinavdr.results.store import write_atomic

    infos = _by_dataset(tasks if tasks is not None else catalogue_tasks())
    planned: dict[Path, ResultFile] = {}
    for res in results:
        info = infos.get(res.dataset)
        if info is None:
            raise ResultsError(
                f"dataset {res.dataset!r} ({res.model_slug}) has no MTEB task name in the task catalogue; "
                "only catalogue datasets that MTEB knows can be exported."
            )
        name = model_name or res.manifest.model_id
        folder = Path(out_dir) / _model_folder(name) / (res.manifest.model_revision or NO_REVISION)
        path = folder / f"{info.mteb_name}.json"
        if path in planned:
            other = planned[path]
            raise ResultsError(
                f"{other.model_slug}/{other.dataset}.json and {res.model_slug}/{res.dataset}.json would both "
                f"be written to {path}. Export them separately with different --model-name values."
            )
        planned[path] = res
    written = []
    for path, res in planned.items():
        body = task_result_dict(res, infos[res.dataset].mteb_name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            name = model_name or res.manifest.model_id
            meta = model_meta_dict(name, res.manifest.model_revision or NO_REVISION)
            write_atomic(path.parent / "model_meta.json", json.dumps(meta, indent=2) + "\n")
            write_atomic(path, json.dumps(body, indent=2) + "\n")
        except OSError as exc:
            raise ResultsError(f"cannot write {path} ({exc.strerror or exc}); choose a writable -o folder.") from None
        written.append(path)
    return written


def _timestamp(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------------


def find_mteb_files(paths: Iterable[Path]) -> list[Path]:
    """MTEB task result files among ``paths`` (files, or folders searched recursively)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(
                f for f in p.rglob("*.json") if f.name not in ("model_meta.json",) and not f.name.startswith(".")
            )
        elif p.is_file():
            found.append(p)
        else:
            raise ResultsError(f"{p} does not exist; pass MTEB result files or folders holding them.")
    return found


def _model_identity(path: Path, data: Mapping[str, Any]) -> tuple[str, str]:
    meta = path.parent / "model_meta.json"
    if meta.is_file():
        try:
            m = json.loads(meta.read_text(encoding="utf-8"))
            return str(m["name"]), str(m.get("revision") or NO_REVISION)
        except (ValueError, KeyError, OSError):
            pass
    # <model>/<revision>/<task>.json
    return path.parent.parent.name.replace("__", "/"), path.parent.name


def import_slug(model_name: str) -> str:
    return "mteb-" + re.sub(r"[^A-Za-z0-9._-]+", "_", model_name.replace("/", "__"))


def result_from_mteb(
    path: Path, info: TaskInfo, *, model_name: str | None = None
) -> ResultFile:
    """One jinavdr :class:`ResultFile` from one MTEB task result file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path} is not a readable JSON file ({exc}).") from None
    if not isinstance(data, dict) or "task_name" not in data or "scores" not in data:
        raise ResultsError(f"{path} is not an MTEB task result file (no task_name/scores).")
    if not isinstance(data["scores"], dict):
        raise ResultsError(f"{path}: 'scores' is a {type(data['scores']).__name__}, not an object of splits.")
    split = data["scores"].get(SPLIT)
    if not split:
        raise ResultsError(f"{path} has no scores for the {SPLIT!r} split (has: {sorted(map(str, data['scores']))}).")
    if not isinstance(split, list) or not all(isinstance(e, dict) for e in split):
        raise ResultsError(f"{path}: scores[{SPLIT!r}] must be a list of objects, one per subset.")
    name, revision = _model_identity(Path(path), data)
    name = model_name or name
    date = data.get("date")
    try:
        stamp = float(date) if isinstance(date, (int, float)) and not isinstance(date, bool) else None
        when = datetime.fromtimestamp(stamp if stamp is not None else Path(path).stat().st_mtime,
                                      tz=timezone.utc).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        raise ResultsError(f"{path}: 'date' is {date!r}, not a Unix time in seconds.") from None
    subsets: dict[str, SubsetResult] = {}
    for entry in split:
        sub = str(entry.get("hf_subset", "default"))
        metrics = {k: float(v) for k, v in entry.items()
                   if METRIC_KEY.match(k) and isinstance(v, (int, float)) and not isinstance(v, bool)}
        wrong = [k for k, v in entry.items() if METRIC_KEY.match(k) and k not in metrics and v is not None]
        if wrong:
            raise ResultsError(f"{path}: subset {sub!r} has {wrong[0]!r} = {entry[wrong[0]]!r}, not a number.")
        if MAIN_METRIC not in metrics:
            raise ResultsError(f"{path}: subset {sub!r} has no {MAIN_METRIC!r} score.")
        q, p, r = (info.counts or {}).get(sub, (0, 0, 0))
        subsets[sub] = SubsetResult(
            subset=sub, metrics=dict(sorted(metrics.items())), per_query=None,
            n_queries=q, n_pages=p, n_qrels=r, finished_at=when,
        )
    mteb_version = data.get("mteb_version")
    manifest = Manifest(
        model_id=name,
        model_revision=None if revision == NO_REVISION else revision,
        adapter=IMPORT_ADAPTER,
        settings={},
        dataset_repo=info.repo,
        dataset_revision=data.get("dataset_revision"),
        protocol="beir",
        versions={"mteb": str(mteb_version)} if mteb_version else {},
        created_at=when,
        source="mteb",
    )
    result = ResultFile(
        model=name, model_slug=import_slug(name), dataset=info.dataset, protocol="beir",
        subsets=dict(sorted(subsets.items())), manifest=manifest,
    )
    return validate_result(result, path, hint="Nothing was imported; fix or regenerate that MTEB file.")


def import_mteb(
    paths: Iterable[Path],
    results_dir: Path,
    *,
    model_name: str | None = None,
    overwrite: bool = False,
    tasks: Iterable[TaskInfo] | None = None,
) -> tuple[list[Path], list[str]]:
    """Convert MTEB result files into result files under ``results_dir``.

    Returns ``(written paths, skipped notes)``: files of tasks outside the catalogue are skipped with
    a note. An existing result file with other settings raises unless ``overwrite``.
    """
    from jinavdr.results.store import ResultStore

    infos = _by_mteb_name(tasks if tasks is not None else catalogue_tasks())
    store = ResultStore(results_dir)
    written, skipped = [], []
    converted = []
    for path in find_mteb_files(paths):  # every file is converted and checked before any is written
        try:
            task_name = json.loads(path.read_text(encoding="utf-8")).get("task_name")
        except (OSError, ValueError, AttributeError):
            task_name = None
        info = infos.get(task_name) if isinstance(task_name, str) else None
        if info is None:
            skipped.append(f"{path}: task {task_name!r} is not a catalogue task")
            continue
        converted.append(result_from_mteb(path, info, model_name=model_name))
    for res in converted:
        store.ensure_writable(res.model_slug)
        for sub in res.subsets.values():
            store.add_subset(
                model=res.model, model_slug=res.model_slug, dataset=res.dataset,
                manifest=res.manifest, result=sub, replace_incompatible=overwrite,
            )
        written.append(store.path(res.model_slug, res.dataset))
    return written, skipped
