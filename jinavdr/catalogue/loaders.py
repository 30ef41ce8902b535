"""Loading one subset into :class:`~jinavdr.catalogue.dataset.Subset`, from the Hub or a local folder.

Two layouts:

* BEIR (what MTEB pins, :func:`load_subset`): ``queries`` / ``corpus`` / ``qrels`` parquet folders per
  subset, read with ``datasets.load_dataset`` (by ``data_dir``, or by config name for ViDoRe);
* QA (what jina-vdr and the paper used, :func:`load_qa_subset`): one row per (query, page) in one
  config per language, turned into queries, pages and qrels as ``PROTOCOL.md`` section 2 describes.

Page images stay in the Arrow table and are decoded one at a time by ``Corpus.image(i)``.
Heavy imports (``datasets``, PIL) happen inside functions.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinavdr.catalogue.dataset import Corpus, Qrels, Queries, Subset
from jinavdr.catalogue.tasks import SubsetSpec, TaskSpec, get_task, local_part_files
from jinavdr.errors import DataError

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa
    from PIL.Image import Image

__all__ = [
    "CONTENT_REVISION_PREFIX",
    "DataWarning",
    "content_revision",
    "is_content_revision",
    "load_qa_subset",
    "load_subset",
    "recorded_source",
    "resolve",
]

_SPLIT = "test"
_SHOW = 8  # ids named in an error message


class DataWarning(UserWarning):
    """Loaded data differs from what the task file expects (counts)."""


TaskLike = TaskSpec | str | os.PathLike[str]


def resolve(task: TaskLike, subset: SubsetSpec | str | None = None) -> tuple[TaskSpec, SubsetSpec]:
    """The task (by spec, name, alias or folder path) and one of its subsets (by name or language)."""
    spec = task if isinstance(task, TaskSpec) else get_task(os.fspath(task))
    if isinstance(subset, SubsetSpec):
        return spec, subset
    if subset is None:
        if len(spec.subsets) != 1:
            names = ", ".join(s.name for s in spec.subsets)
            raise DataError(f"task {spec.name!r} has {len(spec.subsets)} subsets ({names}): name one")
        return spec, spec.subsets[0]
    return spec, spec.subset(subset)


# -------------------------------------------------------------------------------------------------
# Content revision of local folders
# -------------------------------------------------------------------------------------------------

#: Prefix of a content revision, the ``dataset_revision`` recorded for a local folder.
CONTENT_REVISION_PREFIX = "sha256:"
_CHUNK = 1 << 20
#: sha256 of each file read so far, by (path, size, mtime, inode): repeated loads do not rehash.
_file_digests: dict[tuple[str, int, int, int], bytes] = {}


def is_content_revision(revision: str | None) -> bool:
    """True for a content revision (``sha256:<hex>``, a local folder's) rather than a Hub commit."""
    return revision is not None and revision.startswith(CONTENT_REVISION_PREFIX)


def _file_digest(path: Path) -> bytes:
    """sha256 of a file's bytes, streamed in 1 MiB chunks; cached in-process by (path, size, mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _file_digests.get(key)
    if digest is None:
        h = hashlib.sha256()
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        with path.open("rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
        digest = _file_digests[key] = h.digest()
    return digest


def content_revision(task: TaskLike) -> str:
    """``sha256:<hex>`` identifying the data of a local task, the same on every machine.

    Covers every parquet file of every subset (one result file holds all subsets of a dataset):
    sha256 over the files sorted by path relative to the task folder, each contributing its path and
    the sha256 of its bytes. Image files that a corpus names by path are not covered.
    """
    spec = task if isinstance(task, TaskSpec) else get_task(os.fspath(task))
    if not spec.is_local:
        raise DataError(f"task {spec.name!r} is a Hub repo ({spec.repo}), not a folder: it has no content revision")
    root = Path(spec.repo)
    files = {f for s in spec.subsets for part in local_part_files(root, s).values() for f in part}
    top = hashlib.sha256()
    for rel, path in sorted((f.relative_to(root).as_posix(), f) for f in files):
        name = rel.encode("utf-8")
        top.update(len(name).to_bytes(8, "big") + name)
        try:
            top.update(_file_digest(path))
        except OSError as exc:
            raise DataError(f"local dataset {root}: cannot read {rel} to compute its content revision ({exc})") from exc
    return CONTENT_REVISION_PREFIX + top.hexdigest()


def recorded_source(task: TaskSpec) -> tuple[str, str | None]:
    """``(dataset_repo, dataset_revision)`` that result files record for ``task``.

    A Hub task: its repo id and pinned commit. A local folder: :attr:`TaskSpec.recorded_repo`
    (``jinavdr-sample/<name>`` for the bundled sample, else the folder path) and its
    :func:`content_revision`.
    """
    if task.is_local:
        return task.recorded_repo, content_revision(task)
    return task.repo, task.revision


# -------------------------------------------------------------------------------------------------
# Reading parts through datasets.load_dataset, with errors users can act on
# -------------------------------------------------------------------------------------------------

_OFFLINE_ERRORS = {
    "ConnectionError", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "Timeout", "ConnectTimeout",
    "ReadTimeout", "ConnectError", "MaxRetryError", "NameResolutionError",
}  # fmt: skip
_MISSING_ERRORS = {
    "RepositoryNotFoundError", "DatasetNotFoundError", "RevisionNotFoundError", "EntryNotFoundError",
    "DisabledRepoError", "DataFilesNotFoundError", "DefunctDatasetError",
}  # fmt: skip


def _hub_error(exc: BaseException, repo: str, revision: str | None, what: str) -> DataError:
    """A :class:`DataError` saying why ``what`` of ``repo`` could not be loaded and what to do."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "LocalEntryNotFoundError" in names and getattr(exc.__cause__, "response", None) is not None:
        # snapshot_download wraps what the Hub answered (repo or revision not found, gated) into
        # "not in the local cache": classify by the Hub's answer
        return _hub_error(exc.__cause__, repo, revision, what)
    at = f" at revision {revision}" if revision else ""
    source = f"{what} of {repo}{at}"
    if "GatedRepoError" in names or "gated" in str(exc).lower():
        return DataError(
            f"cannot load {source}: the dataset is gated on the Hugging Face Hub ({exc}). Request access "
            f"at https://huggingface.co/datasets/{repo}, then log in (`hf auth login` or HF_TOKEN)."
        )
    if names & _OFFLINE_ERRORS:
        rev = f" --revision {revision}" if revision else ""
        return DataError(
            f"cannot load {source}: the Hugging Face Hub is unreachable or offline mode is on "
            f"(HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) and the Hugging Face cache has no copy ({exc}). "
            "To work offline, load it once while online so that it is cached (then set HF_HUB_OFFLINE=1), "
            f"or copy the repo to a folder (`hf download {repo} --repo-type dataset{rev} --local-dir DIR`) "
            "and pass that folder instead of the name: --tasks DIR."
        )
    if names & _MISSING_ERRORS:
        return DataError(
            f"cannot load {source}: the Hugging Face Hub says: {exc}. Check the repo id and revision in the "
            "task file; for a private repo log in (`hf auth login` or HF_TOKEN)."
        )
    return DataError(f"cannot load {source}: {type(exc).__name__}: {exc}")


def _load(call: Callable[[], datasets.Dataset], repo: str, revision: str | None, what: str) -> datasets.Dataset:
    try:
        return call()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - every datasets/hub failure becomes an actionable DataError
        raise _hub_error(exc, repo, revision, what) from exc


def hub_patterns(task: TaskSpec, subset: SubsetSpec) -> list[str] | None:
    """The files of ``subset`` in its Hub repo (``allow_patterns``); None = the whole repo (ViDoRe's
    configs are defined by the dataset card, so the card and every data file are needed)."""
    if task.layout == "beir-configs":
        return None
    return [f"{subset.part_dir(part)}/*" for part in ("queries", "corpus", "qrels")]


def subset_cached(task: TaskSpec, subset: SubsetSpec) -> bool:
    """True when the Hugging Face cache holds ``subset``'s files at the pinned revision (no network)."""
    from jinavdr import hub

    if task.is_local or task.revision is None:
        return task.is_local
    root = hub.cached_snapshot(task.repo, "dataset", task.revision)
    if root is None:
        return False
    if task.layout == "beir-configs":
        return any(root.rglob("*.parquet"))
    return all(any((root / subset.part_dir(part)).rglob("*.parquet")) for part in ("queries", "corpus", "qrels"))


def _hub_root(repo: str, revision: str | None, patterns: tuple[str, ...] | None, what: str) -> Path:
    from jinavdr import hub

    return _load(lambda: hub.snapshot(repo, "dataset", revision, list(patterns) if patterns else None),
                 repo, revision, what)


def _load_part(task: TaskSpec, subset: SubsetSpec, part: str) -> datasets.Dataset:
    """One part (``queries``, ``corpus`` or ``qrels``) of a subset, split ``test``.

    Hub tasks: the subset's files are downloaded at the pinned revision into the Hugging Face cache
    (``huggingface_hub.snapshot_download``; offline, found there) and read from that folder. (Reading
    with ``load_dataset(repo, data_dir=..., revision=...)`` instead cannot work offline: datasets looks
    for its prepared copy under another config name and fails even when the files are cached.)
    """
    import datasets

    what = f"the {part} of {task.name}:{subset.name}"
    if task.is_local:
        root = Path(task.repo)
        files = [str(f.relative_to(root)) for f in local_part_files(root, subset)[part]]
        return _load(
            lambda: datasets.load_dataset(str(root), data_files={_SPLIT: files}, split=_SPLIT),
            str(root), None, what,
        )  # fmt: skip
    patterns = hub_patterns(task, subset)
    root = _hub_root(task.repo, task.revision, tuple(patterns) if patterns else None,
                     f"the files of {task.name}:{subset.name}")
    if task.layout == "beir-configs":
        return _load(lambda: datasets.load_dataset(str(root), part, split=_SPLIT), task.repo, task.revision, what)
    folder = root / subset.part_dir(part)
    files = sorted(str(f.relative_to(root)) for f in folder.rglob("*.parquet"))
    if not files:
        at = f" at revision {task.revision}" if task.revision else ""
        raise DataError(f"cannot load {what}: {task.repo}{at} has no parquet files under "
                        f"{subset.part_dir(part)}/ (check data_dir in the task file)")
    return _load(
        lambda: datasets.load_dataset(str(root), data_files={_SPLIT: files}, split=_SPLIT),
        task.repo, task.revision, what,
    )  # fmt: skip


def _table(ds: datasets.Dataset) -> pa.Table:
    """The Arrow table of ``ds`` in row order (memory-mapped for datasets loaded from files)."""
    if getattr(ds, "_indices", None) is not None:
        ds = ds.flatten_indices()
    return ds.data.table


def _require(table: pa.Table, columns: Iterable[str], where: str, part: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(
            f"{where}: the {part} have no column {', '.join(map(repr, missing))} "
            f"(found {', '.join(table.column_names)}); see the expected layout in docs/tasks.md"
        )


def _strings(table: pa.Table, column: str) -> list[str]:
    return ["" if v is None else str(v) for v in table.column(column).to_pylist()]


def _named(ids: Iterable[str]) -> str:
    ids = list(ids)
    more = f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else ""
    return ", ".join(repr(i) for i in ids[:_SHOW]) + more


def _check_unique(ids: list[str], what: str, where: str) -> None:
    dups = [i for i, n in Counter(ids).items() if n > 1]
    if dups:
        raise DataError(f"{where}: duplicate {what} ids {_named(dups)}; ids must be unique")


# -------------------------------------------------------------------------------------------------
# Pages: lazy decoding, hashes and sizes straight from the Arrow column
# -------------------------------------------------------------------------------------------------


class _ImageColumn:
    """Random access to the encoded bytes (or file path) of each page in an Arrow image column."""

    def __init__(self, column: pa.ChunkedArray, base_dir: Path | None) -> None:
        import pyarrow as pa

        self._chunks = column.chunks
        self._starts = []
        start = 0
        for chunk in self._chunks:
            self._starts.append(start)
            start += len(chunk)
        self._len = start
        typ = column.type
        if pa.types.is_struct(typ):
            self._kind = "struct"
        elif pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
            self._kind = "binary"
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            self._kind = "path"
        else:
            raise DataError(f"unsupported image column type {typ}: expected an Image feature, bytes or paths")
        self._base_dir = base_dir

    def __len__(self) -> int:
        return self._len

    def raw(self, i: int) -> tuple[pa.Buffer | None, str | None]:
        """Encoded bytes (zero-copy buffer) and path of page ``i``; either may be ``None``."""
        c = bisect_right(self._starts, i) - 1
        value = self._chunks[c][i - self._starts[c]]
        if self._kind == "struct":
            data = value.get("bytes") if value.is_valid else None
            path = value.get("path") if value.is_valid else None
            buf = data.as_buffer() if data is not None and data.is_valid else None
            return buf, (path.as_py() if path is not None and path.is_valid else None)
        if self._kind == "binary":
            return (value.as_buffer() if value.is_valid else None), None
        return None, value.as_py()

    def _path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() or self._base_dir is None else self._base_dir / p

    def payload(self, i: int) -> bytes | pa.Buffer | None:
        """The encoded image of page ``i`` (read from its file when only a path is stored)."""
        buf, path = self.raw(i)
        if buf is not None:
            return buf
        if path and self._path(path).is_file():
            return self._path(path).read_bytes()
        return None

    def decode(self, i: int) -> Image:
        """Page ``i`` as a PIL image, decoded as ``datasets.Image`` does (EXIF orientation applied)."""
        import pyarrow as pa
        from PIL import Image as PILImage
        from PIL import ImageOps

        buf, path = self.raw(i)
        if buf is not None:
            image = PILImage.open(pa.BufferReader(buf))
        elif path:
            image = PILImage.open(self._path(path))
        else:
            raise ValueError("the row has neither image bytes nor a path")
        image.load()
        if image.getexif().get(0x0112) is not None:  # EXIF orientation
            image = ImageOps.exif_transpose(image)
        return image


def _hash_and_size(images: _ImageColumn, texts: list[str] | None) -> tuple[list[str], list[tuple[int, int]]]:
    """Per page: sha1 of the encoded image and the OCR text, and (width, height) from the header.

    The size is (0, 0) when the header cannot be read (the page then fails when decoded).
    """
    import pyarrow as pa
    from PIL import Image as PILImage

    hashes, sizes = [], []
    for i in range(len(images)):
        payload = images.payload(i)
        h = hashlib.sha1()
        h.update(b"" if payload is None else memoryview(payload))
        h.update(b"\x00")
        if texts is not None:
            h.update(texts[i].encode("utf-8"))
        hashes.append(h.hexdigest())
        size = (0, 0)
        if payload is not None:
            try:
                with PILImage.open(pa.BufferReader(pa.py_buffer(payload))) as im:
                    size = im.size
            except Exception:  # noqa: BLE001 - unreadable header: reported when the page is decoded
                pass
        sizes.append(size)
    return hashes, sizes


def _corpus(
    table: pa.Table,
    ids: list[str],
    *,
    dataset: str,
    base_dir: Path | None,
    group_ids: list[str] | None = None,
) -> Corpus:
    images = _ImageColumn(table.column("image"), base_dir)
    texts = _strings(table, "text_description") if "text_description" in table.column_names else None
    hashes, sizes = _hash_and_size(images, texts)
    return Corpus(
        ids=ids,
        load_image=images.decode,
        texts=texts,
        sizes=sizes,
        dataset=dataset,
        hashes=hashes,
        group_ids=group_ids,
    )


# -------------------------------------------------------------------------------------------------
# BEIR layout
# -------------------------------------------------------------------------------------------------


def _check_counts(task: TaskSpec, subset: SubsetSpec, loaded: dict[str, int], strict: bool) -> None:
    """Compare loaded counts with the task file's: one warning (or, if ``strict``, error) for all."""
    expected = {"queries": subset.queries, "pages": subset.pages, "qrels": subset.qrels}
    diffs = [f"{expected[k]} {k}, loaded {n}" for k, n in loaded.items() if expected[k] not in (None, n)]
    if not diffs:
        return
    at = f" at revision {task.revision}" if task.revision else ""
    msg = f"{task.name}:{subset.name}: the task file expects {'; '.join(diffs)} (from {task.repo}{at})"
    if strict:
        raise DataError(msg + "; strict mode makes this an error")
    warnings.warn(msg, DataWarning, stacklevel=3)


def load_subset(task: TaskLike, subset: SubsetSpec | str | None = None, *, strict: bool = False) -> Subset:
    """Load one subset in the BEIR layout, validated.

    Ids become strings. Errors (:class:`DataError`): duplicate query or page ids, qrels naming an
    unknown query or page, missing columns or parts, an unreachable / gated / missing Hub repo.
    Queries without a relevant page (score > 0) are dropped and counted in ``dropped_queries``.
    Counts that differ from the task file warn (:class:`DataWarning`), or raise when ``strict``.
    ``repo`` / ``revision`` are :func:`recorded_source`'s: the Hub id and pinned commit, or for a
    folder a portable name (sample) or its path, and its :func:`content_revision`.
    """
    task, subset = resolve(task, subset)
    where = f"{task.name}:{subset.name} ({task.repo})"

    q_table = _table(_load_part(task, subset, "queries"))
    _require(q_table, ["query-id", "query"], where, "queries")
    query_ids = _strings(q_table, "query-id")
    query_texts = _query_texts(q_table, query_ids, where)
    if subset.query_language is not None:
        _require(q_table, ["language"], where, "queries")
        keep = [lang == subset.query_language for lang in q_table.column("language").to_pylist()]
        query_ids = [q for q, k in zip(query_ids, keep, strict=True) if k]
        query_texts = [t for t, k in zip(query_texts, keep, strict=True) if k]
    _check_unique(query_ids, "query", where)

    c_table = _table(_load_part(task, subset, "corpus"))
    _require(c_table, ["corpus-id", "image"], where, "corpus")
    doc_ids = _strings(c_table, "corpus-id")
    _check_unique(doc_ids, "page", where)

    r_table = _table(_load_part(task, subset, "qrels"))
    _require(r_table, ["query-id", "corpus-id", "score"], where, "qrels")
    rows = list(zip(_strings(r_table, "query-id"), _strings(r_table, "corpus-id"), r_table.column("score").to_pylist(), strict=True))
    numbered = list(enumerate(rows))
    if subset.query_language is not None:  # one qrels file for all languages: keep this language's
        known = set(query_ids)
        numbered = [(i, r) for i, r in numbered if r[0] in known]
    relevance, n_qrels, duplicates = _relevance(numbered, set(query_ids), set(doc_ids), where)

    _check_counts(task, subset, {"queries": len(query_ids), "pages": len(doc_ids), "qrels": n_qrels}, strict)

    queries, relevance, dropped = _drop_unjudged(query_ids, query_texts, relevance)
    base_dir = Path(task.repo) if task.is_local else None
    corpus = _corpus(c_table, doc_ids, dataset=task.name, base_dir=base_dir)
    repo, revision = recorded_source(task)
    return Subset(
        dataset=task.name,
        name=subset.name,
        queries=queries,
        corpus=corpus,
        qrels=Qrels(relevance),
        repo=repo,
        revision=revision,
        dropped_queries=dropped,
        duplicate_qrels=duplicates,
    )


def _grade(score: Any, row: int, qid: str, did: str, where: str) -> int:
    """The integer grade of one qrels row; anything else (fraction, text, null, negative) raises."""
    def refuse(why: str) -> DataError:
        return DataError(
            f"{where}: row {row} of the qrels (query {qid!r}, page {did!r}) has score {score!r}, {why}; "
            "fix that row of the qrels"
        )

    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise refuse("which is not an integer grade")
    if isinstance(score, float) and not score.is_integer():
        raise refuse("which is not an integer grade (fractional grades are not rounded)")
    if score < 0:
        raise refuse("a negative grade (trec_eval's measures are undefined for it; map it to 0)")
    return int(score)


def _relevance(
    rows: Iterable[tuple[int, tuple[str, str, Any]]], query_ids: set[str], doc_ids: set[str], where: str
) -> tuple[dict[str, dict[str, int]], int, int]:
    """Qrels as {query: {page: grade}}, the row count and the count of repeated identical rows.

    ``rows``: (row number in the qrels, (query id, page id, score)). Unknown ids, a score that is not
    a non-negative integer, and one (query, page) pair given twice with different grades raise
    :class:`DataError` naming the rows; a pair repeated with the same grade is counted once.
    """
    relevance: dict[str, dict[str, int]] = {}
    first_row: dict[tuple[str, str], int] = {}
    bad_q: dict[str, None] = {}
    bad_d: dict[str, None] = {}
    n = duplicates = 0
    for row, (qid, did, score) in rows:
        n += 1
        if qid not in query_ids:
            bad_q[qid] = None
        if did not in doc_ids:
            bad_d[did] = None
        grade = _grade(score, row, qid, did, where)
        docs = relevance.setdefault(qid, {})
        if did in docs:
            if docs[did] != grade:
                raise DataError(
                    f"{where}: the qrels judge query {qid!r} and page {did!r} twice with different grades "
                    f"({docs[did]} in row {first_row[qid, did]}, {grade} in row {row}); keep one of the rows"
                )
            duplicates += 1
            continue
        docs[did] = grade
        first_row[qid, did] = row
    if bad_q or bad_d:
        parts = []
        if bad_q:
            parts.append(f"unknown query ids {_named(bad_q)}")
        if bad_d:
            parts.append(f"unknown page ids {_named(bad_d)}")
        raise DataError(f"{where}: the qrels name {' and '.join(parts)}; fix the qrels or the ids")
    if duplicates:
        warnings.warn(
            f"{where}: {duplicates} qrels row(s) repeat a (query, page) pair with the same grade; each pair "
            "counts once (recorded as duplicate_qrels in the result file)",
            DataWarning, stacklevel=3,
        )
    return relevance, n, duplicates


def _query_texts(table: pa.Table, ids: list[str], where: str) -> list[str]:
    """The ``query`` column as text; a non-text column or a null, empty or blank query raises."""
    import pyarrow as pa

    typ = table.column("query").type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ)):
        raise DataError(
            f"{where}: the queries' 'query' column has type {typ}, not text; write the queries as strings "
            "(decode bytes as UTF-8 yourself, jinavdr does not guess an encoding)"
        )
    texts = table.column("query").to_pylist()
    for row, (qid, text) in enumerate(zip(ids, texts, strict=True)):
        if text is None or not text.strip():
            what = "null" if text is None else "empty" if not text else "only whitespace"
            raise DataError(f"{where}: row {row} of the queries (query {qid!r}) has a {what} query text; "
                            "fix or remove that row")
    return texts


def _drop_unjudged(
    ids: list[str], texts: list[str], relevance: dict[str, dict[str, int]]
) -> tuple[Queries, dict[str, dict[str, int]], int]:
    """Keep queries with at least one page of grade > 0 (as trec_eval and MTEB score them)."""
    judged = {q for q, docs in relevance.items() if any(g > 0 for g in docs.values())}
    keep = [i for i, q in enumerate(ids) if q in judged]
    queries = Queries([ids[i] for i in keep], [texts[i] for i in keep])
    return queries, {q: relevance[q] for q in queries.ids}, len(ids) - len(keep)


# -------------------------------------------------------------------------------------------------
# QA layout (paper protocol)
# -------------------------------------------------------------------------------------------------


def _resolved_commit(repo: str) -> str | None:
    """The commit the Hub resolves for ``repo`` now; ``None`` offline or when it cannot be asked."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return None
    try:
        from huggingface_hub import HfApi

        # revision="main" explicitly: some Hub-compatible servers (olah) refuse the revision-less route
        return HfApi().dataset_info(repo, revision="main", timeout=10).sha
    except Exception:  # noqa: BLE001 - no network, no access: the loader then says what failed
        return None


def _load_qa_rows(source: str, config: str, where: str) -> tuple[datasets.Dataset, str | None, bool]:
    """The QA rows of ``config`` from a Hub repo or local folder, the commit loaded, is-local."""
    import datasets

    folder = Path(source).expanduser()
    if folder.is_dir():
        root = folder.resolve()
        if (root / "README.md").is_file():  # a Hub snapshot: its card defines the configs
            call = lambda: datasets.load_dataset(str(root), name=config, split=_SPLIT)  # noqa: E731
        else:
            sub = root / config if (root / config).is_dir() else root
            files = sorted(str(f.relative_to(root)) for f in sub.rglob("*.parquet"))
            if not files:
                raise DataError(
                    f"{where}: no parquet files in {sub} (expected {root}/<config>/*.parquet or "
                    f"{root}/*.parquet with columns query, image, image_filename, text_description)"
                )
            call = lambda: datasets.load_dataset(str(root), data_files={_SPLIT: files}, split=_SPLIT)  # noqa: E731
        return _load(call, str(root), None, f"config {config!r}"), None, True
    commit = _resolved_commit(source)
    ds = _load(
        lambda: datasets.load_dataset(source, name=config, split=_SPLIT, revision=commit),
        source, commit, f"config {config!r}",
    )  # fmt: skip
    return ds, commit, False


def _qa_queries(table: pa.Table, where: str) -> list[str | None]:
    """The QA rows' ``query`` column: text, or null for a distractor page; a non-text column or an
    empty or blank query raises naming the row."""
    import pyarrow as pa

    typ = table.column("query").type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ)):
        raise DataError(f"{where}: the 'query' column has type {typ}, not text; write the queries as strings")
    texts = table.column("query").to_pylist()
    for row, text in enumerate(texts):
        if text is not None and not text.strip():
            raise DataError(f"{where}: row {row} has an {'empty' if not text else 'only-whitespace'} query text; "
                            "use null for a page without a query, or fix the row")
    return texts


def load_qa_subset(
    task: TaskLike,
    subset: SubsetSpec | str | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
) -> Subset:
    """Load one subset of a task's QA copy (``jinaai/<name>``) as the paper's protocol reads it.

    Queries: rows with a query, deduplicated by exact text (first row kept). Relevant page of a query:
    the ``image_filename`` of the LAST row carrying it (qrels ``{qid: {filename: 1}}``). Pages: every
    row (ids ``row-<i>``), with ``Corpus.group_ids`` = ``image_filename`` so rows of one file merge by
    max score. ``source`` overrides the QA repo (a Hub id or a local folder). The revision recorded is
    the commit the Hub resolved (``None`` offline or for a folder).
    """
    task, subset = resolve(task, subset)
    repo = str(source) if source is not None else task.qa_repo
    if repo is None:
        raise DataError(f"task {task.name!r} has no QA copy (qa_repo); pass source=<Hub id or folder>")
    config = subset.qa_config or subset.name
    where = f"{task.name}:{subset.name} QA ({repo}, config {config!r})"
    ds, commit, local = _load_qa_rows(repo, config, where)
    table = _table(ds)
    _require(table, ["query", "image", "image_filename"], where, "rows")

    filenames = _strings(table, "image_filename")
    first_row: dict[str, int] = {}
    relevant: dict[str, str] = {}
    for i, text in enumerate(_qa_queries(table, where)):
        if text is None:
            continue  # a distractor page
        first_row.setdefault(text, i)
        relevant[text] = filenames[i]  # the last row carrying the query wins
    texts = sorted(first_row, key=first_row.__getitem__)
    qids = [f"q-{first_row[t]}" for t in texts]
    relevance = {qid: {relevant[t]: 1} for qid, t in zip(qids, texts, strict=True)}

    corpus = _corpus(
        table,
        [f"row-{i}" for i in range(table.num_rows)],
        dataset=task.name,
        base_dir=Path(repo).resolve() if local else None,
        group_ids=filenames,
    )
    return Subset(
        dataset=task.name,
        name=subset.name,
        queries=Queries(qids, texts),
        corpus=corpus,
        qrels=Qrels(relevance),
        repo=str(Path(repo).resolve()) if local else repo,
        revision=commit,
        dropped_queries=0,
    )
