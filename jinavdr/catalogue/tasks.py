"""The task catalogue: typed specs read from ``tasks/*.toml``, collections, and selection.

A task is one dataset (a Hub repo at a pinned revision, or a local folder) with one or more language
subsets; a query is only ever ranked against the corpus of its own subset. Selection turns user input
(``tabfquad``, ``airbnb-synthetic:ja``, ``vidore-v2``, ``./my-docs``) into ``(TaskSpec, [SubsetSpec])``
pairs. Loading the data lives in :mod:`jinavdr.catalogue.loaders`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jinavdr.errors import DataError, JinaVDRError, UnknownNameError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "COLLECTIONS",
    "PARTS",
    "Catalogue",
    "ImageStats",
    "Selected",
    "SubsetSpec",
    "TaskSpec",
    "get_task",
    "load_catalogue",
    "local_part_files",
    "normalize_language",
    "select",
    "task_from_folder",
]

#: The headline metric of every task and result (nDCG@5); defined here, at the bottom of the package,
#: and imported by the schema, the metrics and the reports.
MAIN_METRIC = "ndcg_at_5"
#: The evaluation protocol used when none is given (MTEB's, on the BEIR copies).
DEFAULT_PROTOCOL = "beir"
#: The three parts of a subset in the BEIR layout.
PARTS = ("queries", "corpus", "qrels")
#: Built-in collections and what they hold.
COLLECTIONS: dict[str, str] = {
    "jinavdr": "the 43 Jina-VDR datasets (96 language subsets), BEIR copies at MTEB's pinned revisions",
    "vidore-v1": "ViDoRe benchmark v1 (10 datasets), at MTEB's pinned revisions",
    "vidore-v2": "ViDoRe benchmark v2 (4 datasets), at MTEB's pinned revisions",
    "sample": "the small synthetic offline sample bundled with jinavdr (jinavdr/assets/sample)",
}
COLLECTION_ALIASES = {"all": "jinavdr"}
#: Collection given to tasks made from a folder path.
LOCAL_COLLECTION = "local"
#: Prefix of the dataset repo recorded for tasks of the bundled sample (``jinavdr-sample/<name>``).
SAMPLE_REPO_PREFIX = "jinavdr-sample/"
#: Environment variable with extra folders of task files (``os.pathsep``-separated).
TASKS_PATH_ENV = "JINAVDR_TASKS_PATH"

# Language codes: task files store ISO 639-1; the data uses "jp" for Japanese.
_LANGUAGE_ALIASES = {"jp": "ja"}
ISO639_3_TO_1 = {
    "ara": "ar", "ben": "bn", "deu": "de", "ger": "de", "eng": "en", "spa": "es", "fra": "fr",
    "fre": "fr", "hin": "hi", "hun": "hu", "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko",
    "mya": "my", "nld": "nl", "dut": "nl", "por": "pt", "rus": "ru", "tha": "th", "urd": "ur",
    "vie": "vi", "zho": "zh", "chi": "zh", "pol": "pl", "tur": "tr",
}  # fmt: skip


def normalize_language(code: str) -> str:
    """ISO 639-1 code for ``code``: ``jp`` -> ``ja``, ``jpn-Jpan`` -> ``ja``, ``zh-Hans`` -> ``zh``."""
    c = code.strip().lower().replace("_", "-").split("-", 1)[0]
    c = ISO639_3_TO_1.get(c, c)
    return _LANGUAGE_ALIASES.get(c, c)


def _name_key(name: str) -> str:
    """Lookup key for task names and aliases: case- and ``_``/``-``-insensitive."""
    return name.strip().lower().replace("_", "-")


# -------------------------------------------------------------------------------------------------
# Schema
# -------------------------------------------------------------------------------------------------


class ImageStats(BaseModel):
    """Page image statistics of a subset (pixels)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unique: int
    avg_w: int
    avg_h: int
    max_w: int
    max_h: int


class SubsetSpec(BaseModel):
    """One language subset: where its parts live and how many rows to expect (``None``: unknown)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: subset name as in the data: ``default`` or a language code (``jp`` for Japanese).
    name: str = Field(min_length=1)
    #: ISO 639-1 codes of the queries and pages (``ja`` for Japanese); empty when unknown.
    languages: tuple[str, ...] = ()
    #: folder holding ``queries/ corpus/ qrels/`` inside the repo or folder; ``""`` = its root.
    data_dir: str = ""
    #: value of the queries' ``language`` column selecting this subset (ViDoRe v2), else ``None``.
    query_language: str | None = None
    #: config of the QA copy (paper protocol); defaults to ``name``.
    qa_config: str | None = None
    queries: int | None = Field(default=None, ge=0)
    pages: int | None = Field(default=None, ge=0)
    qrels: int | None = Field(default=None, ge=0)
    max_rel_per_query: int | None = Field(default=None, ge=0)
    images: ImageStats | None = None

    @field_validator("languages")
    @classmethod
    def _normalize(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalize_language(v) for v in value))

    @property
    def language(self) -> str | None:
        """The subset's language when it has exactly one, else ``None``."""
        return self.languages[0] if len(self.languages) == 1 else None

    def part_dir(self, part: str) -> str:
        """Relative folder of ``part`` (``queries``, ``corpus`` or ``qrels``)."""
        return f"{self.data_dir.strip('/')}/{part}" if self.data_dir.strip("/") else part

    def matches_language(self, code: str) -> bool:
        """True when ``code`` is this subset's name or one of its languages (``ja`` == ``jp``)."""
        return code.strip().lower() == self.name.lower() or normalize_language(code) in self.languages


class TaskSpec(BaseModel):
    """One dataset of the catalogue, or a local folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    #: other accepted names: README dataset name, MTEB task name, repo ids.
    aliases: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    description: str = ""
    #: Hub dataset id of the BEIR copy, or an absolute folder path for local tasks.
    repo: str
    #: pinned Hub commit; ``None`` for local folders.
    revision: str | None = None
    #: ``beir``: parts loaded by ``data_dir=<subset>/<part>``; ``beir-configs``: by config name (ViDoRe).
    layout: Literal["beir", "beir-configs"] = "beir"
    #: Hub id of the vidore-style QA copy (paper protocol), no pinned revision.
    qa_repo: str | None = None
    domain: str = "unknown"
    document_format: str = "unknown"
    query_format: str = "unknown"
    mteb_name: str | None = None
    mteb_domains: tuple[str, ...] = ()
    main_metric: str = MAIN_METRIC
    subsets: tuple[SubsetSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        names = [s.name for s in self.subsets]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate subset names in {names}")
        if not self.is_local:
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", self.repo):
                raise ValueError(f"repo {self.repo!r} is neither a Hub id (owner/name) nor an absolute path")
            if self.revision is not None and not re.fullmatch(r"[0-9a-f]{40}", self.revision):
                raise ValueError(f"revision {self.revision!r} is not a 40-hex commit id")
        return self

    @property
    def is_local(self) -> bool:
        """True when the data is a folder on this machine rather than a Hub repo."""
        return Path(self.repo).is_absolute()

    @property
    def recorded_repo(self) -> str:
        """The dataset repo result files record: the Hub id; for the bundled sample the portable
        ``jinavdr-sample/<name>`` (its folder depends on where jinavdr is installed); else the folder."""
        if self.is_local and "sample" in self.collections:
            return f"{SAMPLE_REPO_PREFIX}{self.name}"
        return self.repo

    @property
    def multilingual(self) -> bool:
        """True when the dataset has several language subsets (scored per language, then averaged)."""
        return len(self.subsets) > 1

    @property
    def collection(self) -> str:
        """The first collection the task belongs to (``local`` for folder tasks)."""
        return self.collections[0] if self.collections else LOCAL_COLLECTION

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(lang for s in self.subsets for lang in s.languages))

    def expected(self, field: Literal["queries", "pages", "qrels"]) -> int | None:
        """Sum of an expected count over the subsets; ``None`` if any subset's count is unknown."""
        values = [getattr(s, field) for s in self.subsets]
        return None if any(v is None for v in values) else sum(values)

    def subset(self, name: str) -> SubsetSpec:
        """The subset called ``name`` or in language ``name`` (``ja`` finds ``jp``)."""
        exact = [s for s in self.subsets if s.name.lower() == name.strip().lower()]
        found = exact or [s for s in self.subsets if s.matches_language(name)]
        if len(found) == 1:
            return found[0]
        valid = [s.name for s in self.subsets] + list(self.languages)
        if not found:
            raise UnknownNameError("language", name, valid, hint=f"(subsets of task {self.name!r})")
        raise UnknownNameError(
            "language", name, valid, hint=f"is ambiguous for task {self.name!r}: use a subset name."
        )


class Selected(NamedTuple):
    """A task and the subsets of it that a selection picked."""

    task: TaskSpec
    subsets: list[SubsetSpec]


# -------------------------------------------------------------------------------------------------
# Local folders
# -------------------------------------------------------------------------------------------------

LAYOUT = """\
<folder>/
├── queries/   *.parquet  columns: query-id (str), query (str)
├── corpus/    *.parquet  columns: corpus-id (str), image (Image), text_description (str, optional)
└── qrels/     *.parquet  columns: query-id (str), corpus-id (str), score (int, > 0 = relevant)
or one subfolder per language subset, each with the three parts:
<folder>/
├── en/{queries,corpus,qrels}/*.parquet
└── fr/{queries,corpus,qrels}/*.parquet"""


def _has_parts(folder: Path) -> bool:
    return any((folder / p).is_dir() for p in PARTS)


def local_part_files(root: Path, subset: SubsetSpec) -> dict[str, list[Path]]:
    """Parquet files of each part of a local subset; a missing part raises :class:`DataError`."""
    files: dict[str, list[Path]] = {}
    for part in PARTS:
        folder = root / subset.part_dir(part)
        found = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
        if not found:
            what = "has no parquet files" if folder.is_dir() else "is missing"
            raise DataError(
                f"local dataset {root}: the {part} of subset {subset.name!r} {what} "
                f"(expected {folder}/*.parquet). Expected layout:\n{LAYOUT}"
            )
        files[part] = found
    return files


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "local"


def _language_of_folder(name: str) -> tuple[str, ...]:
    return (normalize_language(name),) if re.fullmatch(r"[A-Za-z]{2,3}", name) else ()


def task_from_folder(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    collections: Sequence[str] = (LOCAL_COLLECTION,),
    **fields: object,
) -> TaskSpec:
    """A task for a local folder in the BEIR layout (one subset, or one subfolder per language).

    Subfolders named by a language code (``en``, ``jp``) get that language. ``fields`` sets other
    :class:`TaskSpec` fields (description, domain, ...). Missing parts raise :class:`DataError`.
    """
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"task folder {root} does not exist. Expected layout:\n{LAYOUT}")
    if _has_parts(root):
        subsets = [SubsetSpec(name="default")]
    else:
        subdirs = sorted(d for d in root.iterdir() if d.is_dir() and _has_parts(d))
        if not subdirs:
            raise DataError(
                f"folder {root} has no queries/, corpus/ or qrels/ folder, nor subfolders with them. "
                f"Expected layout:\n{LAYOUT}"
            )
        subsets = [SubsetSpec(name=d.name, data_dir=d.name, languages=_language_of_folder(d.name)) for d in subdirs]
    for subset in subsets:
        local_part_files(root, subset)
    spec = {
        "name": _slug(name or root.name),
        "collections": tuple(collections),
        "description": f"Local folder {root}",
        "repo": str(root),
        "subsets": tuple(subsets),
    }
    spec.update(fields)
    return TaskSpec.model_validate(spec)


def _sample_tasks(sample_dir: Path) -> list[TaskSpec]:
    """Tasks of the bundled sample, described by ``catalogue.json`` and ``counts.json`` there."""
    if not sample_dir.is_dir():
        return []
    meta_file, counts_file = sample_dir / "catalogue.json", sample_dir / "counts.json"
    entries = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else None
    counts = json.loads(counts_file.read_text(encoding="utf-8")) if counts_file.is_file() else {}
    if entries is None:  # no metadata: every dataset folder in the layout is a task
        entries = [{"name": d.name} for d in sorted(sample_dir.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    tasks = []
    for entry in entries:
        fields = {k: entry[k] for k in ("description", "domain", "document_format", "query_format") if k in entry}
        try:
            task = task_from_folder(sample_dir / entry["name"], name=entry["name"], collections=("sample",), **fields)
        except DataError as exc:  # a broken sample must not take the whole catalogue down
            warnings.warn(f"sample task {entry['name']!r} skipped: {exc}", stacklevel=2)
            continue
        subsets = []
        for s in task.subsets:
            c = counts.get(entry["name"], {}).get(s.name, {})
            langs = entry.get("subset_languages", {}).get(s.name)  # optional: {"default": ["en"]}
            subsets.append(
                s.model_copy(
                    update={
                        "languages": tuple(normalize_language(x) for x in langs) if langs else s.languages,
                        "queries": c.get("queries"),
                        "pages": c.get("documents", c.get("pages")),
                        "qrels": c.get("qrels"),
                        "max_rel_per_query": c.get("max_rel_per_query"),
                    }
                )
            )
        tasks.append(task.model_copy(update={"subsets": tuple(subsets)}))
    return tasks


# -------------------------------------------------------------------------------------------------
# Catalogue
# -------------------------------------------------------------------------------------------------


def _package_dir() -> Path:
    return Path(str(resources.files("jinavdr")))


def default_tasks_dir() -> Path:
    """Folder of the built-in task files: ``jinavdr/_tasks`` when installed, else ``tasks/`` of the checkout."""
    pkg = _package_dir()
    for candidate in (pkg / "_tasks", pkg.parent / "tasks"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    raise DataError(f"no task files found in {pkg / '_tasks'} or {pkg.parent / 'tasks'}: reinstall jinavdr")


def default_sample_dir() -> Path:
    return _package_dir() / "assets" / "sample"


def _problems(exc: ValidationError) -> str:
    """Pydantic errors as ``field: message; ...``."""
    out = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        loc = ".".join(map(str, err["loc"]))
        out.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(out)


def _read_task_file(path: Path) -> TaskSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        task = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise DataError(f"invalid task file {path}: {_problems(exc)}") from exc
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise DataError(f"invalid task file {path}: {exc}") from exc
    if task.name != path.stem:
        raise DataError(f"task file {path} defines task {task.name!r}; name the file {task.name}.toml")
    return task


def _label_matches(value: str, label: str) -> bool:
    """Filter match on a label: case-insensitive prefix of the label or of one of its ``/`` parts."""
    norm = re.sub(r"[^a-z0-9]", "", value.lower())
    parts = [label, *label.split("/")]
    return bool(norm) and any(re.sub(r"[^a-z0-9]", "", p.lower()).startswith(norm) for p in parts)


def _split(values: str | Iterable[str] | None) -> list[str]:
    """Items of a comma-separated string or a list of them, in order, without empties."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


#: longest file name part and path most file systems accept (bytes)
_NAME_MAX, _PATH_MAX = 255, 4095


def _check_length(item: str) -> None:
    """A clear error for a name or path too long for the file system (instead of an OSError)."""
    raw = item.encode("utf-8", "surrogateescape")
    longest = max((len(p.encode("utf-8", "surrogateescape")) for p in item.split("/")), default=0)
    if len(raw) > _PATH_MAX or longest > _NAME_MAX:
        raise DataError(
            f"task {item[:40]!r}... is too long ({len(raw)} bytes, longest part {longest}; file systems allow "
            f"{_NAME_MAX} per name and {_PATH_MAX} per path): name a task, collection or shorter folder path"
        )


def _is(path: str, kind: str) -> bool:
    """``Path(path).is_dir()`` / ``is_file()`` that treats an unusable path (OSError) as absent."""
    try:
        p = Path(path).expanduser()
        return p.is_dir() if kind == "dir" else p.is_file()
    except (OSError, ValueError):
        return False


def _looks_like_path(item: str) -> bool:
    return os.sep in item or "/" in item or item.startswith((".", "~")) or _is(item, "dir")


class Catalogue:
    """Tasks by name with their aliases and collections."""

    def __init__(self, tasks: Iterable[TaskSpec], *, sample_dir: Path | None = None) -> None:
        self.tasks: dict[str, TaskSpec] = {}
        self._index: dict[str, str] = {}
        self.sample_dir = sample_dir
        for task in tasks:
            if task.name in self.tasks:
                raise DataError(f"two task files define task {task.name!r}")
            self.tasks[task.name] = task
            for key in {_name_key(task.name), *(_name_key(a) for a in task.aliases)}:
                other = self._index.setdefault(key, task.name)
                if other != task.name:
                    raise DataError(f"tasks {other!r} and {task.name!r} both use the name or alias {key!r}")
        for key in (*COLLECTIONS, *COLLECTION_ALIASES):
            if key in self._index:
                raise DataError(f"task {self._index[key]!r} uses the collection name {key!r}")

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks.values())

    def get(self, name: str) -> TaskSpec:
        """A task by name or alias (case-insensitive, ``_`` == ``-``)."""
        key = self._index.get(_name_key(name))
        if key is None:
            raise UnknownNameError(
                "task", name, list(self.tasks), hint="Run `jinavdr tasks` to list them, or pass a folder path."
            )
        return self.tasks[key]

    def collection(self, name: str) -> list[TaskSpec]:
        """Tasks of a collection (``jinavdr``/``all``, ``vidore-v1``, ``vidore-v2``, ``sample``)."""
        key = COLLECTION_ALIASES.get(name.strip().lower(), name.strip().lower())
        if key not in COLLECTIONS:
            raise UnknownNameError("collection", name, [*COLLECTIONS, *COLLECTION_ALIASES])
        tasks = [t for t in self.tasks.values() if key in t.collections]
        if not tasks and key == "sample":
            raise DataError(
                f"the sample collection is not installed (looked in {self.sample_dir}). "
                "Generate it with `python scripts/make_sample.py` in a source checkout."
            )
        return tasks

    @property
    def collections(self) -> dict[str, list[str]]:
        """Collection name -> task names (only collections with tasks)."""
        out: dict[str, list[str]] = {}
        for task in self.tasks.values():
            for c in task.collections:
                out.setdefault(c, []).append(task.name)
        return out

    def _task_or_folder(self, name: str) -> TaskSpec | None:
        """A catalogue task (names win), else a task for an existing folder, else ``None``."""
        if _name_key(name) in self._index:
            return self.tasks[self._index[_name_key(name)]]
        if _looks_like_path(name) and _is(name, "dir"):
            return task_from_folder(name)
        return None

    def _resolve(self, item: str) -> list[Selected]:
        """One selection item -> tasks with the subsets it names."""
        _check_length(item)
        if item.strip().lower() in COLLECTIONS or item.strip().lower() in COLLECTION_ALIASES:
            return [Selected(t, list(t.subsets)) for t in self.collection(item)]
        task = self._task_or_folder(item)
        if task is not None:
            return [Selected(task, list(task.subsets))]
        name, sep, lang = item.rpartition(":")
        if sep and name and (task := self._task_or_folder(name)) is not None:
            return [Selected(task, [task.subset(lang)])]
        target = name if sep and name else item
        if _is(item, "file") or _is(target, "file"):
            file = item if _is(item, "file") else target
            raise DataError(
                f"{file} is a file, not a task: pass a task folder (with queries/, corpus/ and qrels/ "
                f"parquet parts), a task or collection name, or NAME:LANG. Expected folder layout:\n{LAYOUT}"
            )
        if _looks_like_path(target):
            folder = Path(target).expanduser().resolve()
            raise DataError(
                f"task folder {folder} does not exist (and {target!r} is no task name or alias). "
                f"Expected layout:\n{LAYOUT}"
            )
        raise UnknownNameError(
            "task",
            target,
            [*self.tasks, *COLLECTIONS, *COLLECTION_ALIASES],
            hint="Use a task or collection name, NAME:LANGUAGE, or a folder path; `jinavdr tasks` lists them.",
        )

    def _check_vocabulary(self, kind: str, values: list[str], labels: set[str]) -> None:
        for value in values:
            if not any(_label_matches(value, label) for label in labels):
                raise UnknownNameError(kind, value, labels)

    def select(
        self,
        names: str | Iterable[str] | None = None,
        *,
        languages: str | Iterable[str] | None = None,
        domains: str | Iterable[str] | None = None,
        formats: str | Iterable[str] | None = None,
    ) -> list[Selected]:
        """Resolve names (default: the ``jinavdr`` collection) and filter their subsets.

        ``names`` items are collections, task names or aliases, ``NAME:LANG`` (one subset; ``ja`` and
        ``jp`` both mean Japanese) or folder paths; strings may be comma-separated. Filters keep
        subsets in one of ``languages``, of tasks whose domain / document format matches one of
        ``domains`` / ``formats`` (case-insensitive prefix of the label or of a ``/`` part of it).
        Tasks come in the order first named; an empty result raises :class:`JinaVDRError`.
        """
        items = _split(names)
        if not items:
            if names is not None:  # "--tasks ''" is a mistake, never "everything"
                raise JinaVDRError(
                    "no task named: the task selection is empty. Name tasks, collections (jinavdr, all, "
                    "vidore-v1, sample), NAME:LANG or folders; `jinavdr tasks` lists them."
                )
            items = ["jinavdr"]
        picked: dict[str, tuple[TaskSpec, set[str]]] = {}
        for item in items:
            for task, subsets in self._resolve(item):
                entry = picked.setdefault(task.name, (task, set()))
                entry[1].update(s.name for s in subsets)

        langs, doms, fmts = _split(languages), _split(domains), _split(formats)
        everything = [*self.tasks.values(), *(t for t, _ in picked.values())]
        known_langs = {lang for t in everything for s in t.subsets for lang in (s.name, *s.languages)} - {"default"}
        for lang in langs:
            if lang.lower() not in known_langs and normalize_language(lang) not in known_langs:
                raise UnknownNameError("language", lang, known_langs)
        self._check_vocabulary("domain", doms, {t.domain for t in everything})
        self._check_vocabulary("document format", fmts, {t.document_format for t in everything})

        result: list[Selected] = []
        for task, subset_names in picked.values():
            if doms and not any(_label_matches(d, task.domain) for d in doms):
                continue
            if fmts and not any(_label_matches(f, task.document_format) for f in fmts):
                continue
            subsets = [
                s
                for s in task.subsets
                if s.name in subset_names and (not langs or any(s.matches_language(lang) for lang in langs))
            ]
            if subsets:
                result.append(Selected(task, subsets))
        if not result:
            filters = ", ".join(
                f"{k}={','.join(v)}" for k, v in (("languages", langs), ("domains", doms), ("formats", fmts)) if v
            )
            raise JinaVDRError(f"no subset matches {', '.join(items)} with {filters}")
        return result


def load_catalogue(
    tasks_dir: str | os.PathLike[str] | None = None, *, sample_dir: str | os.PathLike[str] | None = None
) -> Catalogue:
    """The catalogue: built-in task files (plus ``$JINAVDR_TASKS_PATH`` folders) and the sample.

    With no arguments the result is cached; pass folders to read other task files or another sample.
    """
    if tasks_dir is None and sample_dir is None:
        return _default_catalogue()
    return _build_catalogue(
        Path(tasks_dir) if tasks_dir is not None else default_tasks_dir(),
        Path(sample_dir) if sample_dir is not None else default_sample_dir(),
    )


def _build_catalogue(tasks_dir: Path, sample_dir: Path) -> Catalogue:
    folders = [tasks_dir, *(Path(p) for p in os.environ.get(TASKS_PATH_ENV, "").split(os.pathsep) if p)]
    tasks = [_read_task_file(f) for folder in folders for f in sorted(folder.glob("*.toml"))]
    return Catalogue([*tasks, *_sample_tasks(sample_dir)], sample_dir=sample_dir)


@functools.lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return _build_catalogue(default_tasks_dir(), default_sample_dir())


def get_task(name: str) -> TaskSpec:
    """A catalogue task by name or alias, or a task for a folder path."""
    catalogue = load_catalogue()
    task = catalogue._task_or_folder(name)
    return task if task is not None else catalogue.get(name)


def select(
    names: str | Iterable[str] | None = None,
    *,
    languages: str | Iterable[str] | None = None,
    domains: str | Iterable[str] | None = None,
    formats: str | Iterable[str] | None = None,
) -> list[Selected]:
    """:meth:`Catalogue.select` on the default catalogue."""
    return load_catalogue().select(names, languages=languages, domains=domains, formats=formats)
