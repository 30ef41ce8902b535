"""The result store: one JSON file per (model spec, dataset) under a results folder.

Layout::

    <root>/<model-slug>/<dataset>.json              the ResultFile (see :mod:`jinavdr.results.schema`)
    <root>/<model-slug>/runs/<dataset>__<subset>.trec   TREC run files (``--save-run``)
    <root>/<model-slug>/.<dataset>.json.lock        lock sidecar (flock), safe to delete when idle

Safety rules:

- every write goes to a temporary file in the same folder, is fsync'ed and then ``os.replace``'d
  over the target, so a crash at any moment leaves either the old or the new file, never half of one;
- adding a subset holds an exclusive ``fcntl.flock`` on the sidecar while it re-reads the file,
  merges and writes, so concurrent runs on different subsets of one dataset both land;
- a file is only extended by a run whose settings identity (:mod:`jinavdr.results.identity`) equals
  the file's; otherwise :class:`~jinavdr.errors.ResultsError` names each differing setting. Local data is
  identified by its content revision (``sha256:...``): changed files refuse, a moved folder does not.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jinavdr.catalogue.loaders import is_content_revision
from jinavdr.errors import ResultsError
from jinavdr.results.identity import ABSENT, differences, identity
from jinavdr.results.schema import SCHEMA_VERSION, Manifest, ResultFile, SubsetResult
from jinavdr.results.validate import validate_result

# --------------------------------------------------------------------------------------------------
# Low-level file operations
# --------------------------------------------------------------------------------------------------


def file_mode() -> int:
    """Permissions of a new file under the current umask (``0o644`` under the usual ``022``), as
    ``open()`` would create it; ``mkstemp`` alone would make every result file private (``0o600``)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically: a temporary file in the same
    folder (created if missing), fsync, ``os.replace``. The one atomic writer of the package.

    The file gets the umask's permissions. An ``OSError`` (disk full, quota, read-only folder) becomes
    a :class:`ResultsError` naming ``path``; the old file is left intact.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ResultsError(
                f"cannot write {path} ({exc.strerror or exc}); nothing was changed there. Free space or fix "
                "the folder's permissions, or choose another --results-dir, then rerun (finished work is kept)."
            ) from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temp_files(path: Path) -> int:
    """Delete temporary files a killed writer of ``path`` left behind; call only under its lock."""
    path = Path(path)
    removed = 0
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


def lock_path(path: Path) -> Path:
    """The lock sidecar of a result file: ``.<name>.lock`` next to it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the sidecar of ``path`` (blocks; ``timeout`` in seconds)."""
    lock = lock_path(path)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise ResultsError(
                        f"{path} is locked by another jinavdr process{_holder(fd)} (lock file {lock}); wait for "
                        "it to finish, or delete the lock file if no jinavdr run is active."
                    ) from None
                if not waited:
                    waited = True
                    sys.stderr.write(f"jinavdr: waiting for {path}: another jinavdr process{_holder(fd)} is writing it "
                                     f"(lock file {lock})\n")
                    sys.stderr.flush()
                time.sleep(0.05)
        _record_holder(fd)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _record_holder(fd: int) -> None:
    """Write this process's id and host into the lock file (read by a waiting process's message)."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)


def _holder(fd: int) -> str:
    """`` (pid N on host)`` from the lock file, or ``""`` when unknown."""
    try:
        pid, _, host = os.pread(fd, 256, 0).decode("utf-8", "replace").strip().partition(" ")
    except OSError:
        return ""
    return f" (pid {pid} on {host})" if pid.isdigit() else ""


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------

_FIX = "Move it aside (e.g. rename it to {name}.bad) and rerun, or rerun with --overwrite to replace it."


def read_result_file(path: Path) -> ResultFile:
    """Parse one result file; a corrupt file or an unknown schema raises :class:`ResultsError`."""
    path = Path(path)
    fix = _FIX.format(name=path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"result file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"result file {path} cannot be read ({exc}). {fix}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"result file {path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            f"it may be truncated or hand-edited. {fix}"
        ) from None
    if not isinstance(data, dict) or "schema_version" not in data:
        hint = ""
        if isinstance(data, dict) and "task_name" in data and "scores" in data:
            hint = " It looks like an MTEB result file: convert it with `jinavdr import`."
        raise ResultsError(f"{path} is not a jinavdr result file (no schema_version).{hint} {fix}")
    version = data["schema_version"]
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"result file {path} has schema version {version!r}, but this jinavdr reads version "
            f"{SCHEMA_VERSION}. Use the jinavdr version that wrote it (see its manifest.versions), "
            f"or {fix[0].lower()}{fix[1:]}"
        )
    try:
        result = ResultFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise ResultsError(f"result file {path} does not match schema version {SCHEMA_VERSION}: {problems}. {fix}") from None
    return validate_result(result, path)


def write_result_file(path: Path, result: ResultFile) -> None:
    """Validate ``result`` (:func:`~jinavdr.results.validate.validate_result`) and write it atomically;
    a value that cannot be right is refused before anything is written."""
    validate_result(result, path)
    write_atomic(path, dump_result_file(result))


def iter_result_paths(path: Path) -> list[Path]:
    """Result files under ``path`` (a file, a model folder or a results root), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ResultsError(f"results path {path} does not exist; pass a result file or a results folder.")
    found = [p for p in path.rglob("*.json") if not p.name.startswith(".") and p.parent.name != "runs"]
    return sorted(found)


def result_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Every result file under ``paths`` (files or folders), each once, sorted by path.

    Raises :class:`ResultsError` naming the paths when none holds a result file.
    """
    given = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    found: dict[str, Path] = {}
    for path in given:
        for file in iter_result_paths(path):
            found.setdefault(str(file.resolve()), file)
    if not found:
        where = ", ".join(str(p) for p in given) or "(nothing)"
        raise ResultsError(
            f"no result files (*.json) found under {where}; pass a result file or a results folder "
            "(`jinavdr run` writes them)."
        )
    return sorted(found.values(), key=lambda p: p.as_posix())


def load_results(paths: str | Path | Iterable[str | Path]) -> list[ResultFile]:
    """Read every result file under ``paths`` (:func:`result_paths`), sorted by path.

    A corrupt file or one of an unknown schema raises :class:`ResultsError` naming it.
    """
    return [read_result_file(p) for p in result_paths(paths)]


# --------------------------------------------------------------------------------------------------
# Settings comparison
# --------------------------------------------------------------------------------------------------


def settings_differences(old: Manifest, new: Manifest) -> list[tuple[str, Any, Any]]:
    """``(setting, old value, new value)`` for each identity setting that differs
    (:func:`jinavdr.results.identity.differences`; local data is compared by content revision)."""
    return differences(identity(old), identity(new))


def check_compatible(existing: ResultFile, new: Manifest, path: Path, *, partial: bool = False) -> None:
    """Raise :class:`ResultsError` naming each differing setting when ``new`` cannot extend ``existing``.

    ``partial``: ``new`` was built before the model was loaded, so a setting it does not know yet
    (None, or a key the adapter adds at load time) is not compared.
    """
    diffs = settings_differences(existing.manifest, new)
    if partial:
        diffs = [d for d in diffs if d[2] is not None and d[2] != ABSENT]
    if not diffs:
        return
    lines = "; ".join(f"{name}: {a!r} in the file, {b!r} now" for name, a, b in diffs)
    changed = any(name == "dataset_revision" for name, _, _ in diffs) and all(
        is_content_revision(m.dataset_revision) for m in (existing.manifest, new)
    )
    why = f" The data in {new.dataset_repo} changed since the file was written." if changed else ""
    raise ResultsError(
        f"{path} holds results made with different settings ({lines}).{why} Refusing to mix them in one file. "
        "Rerun with the file's settings, use another --results-dir, or pass --overwrite to replace the file."
    )


# --------------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------------


class ResultStore:
    """Result files under ``root``: paths, resume information and locked, atomic updates."""

    def __init__(self, root: Path | str = "results") -> None:
        self.root = Path(root)

    def path(self, model_slug: str, dataset: str) -> Path:
        return self.root / model_slug / f"{dataset}.json"

    def run_file_path(self, model_slug: str, dataset: str, subset: str) -> Path:
        return self.root / model_slug / "runs" / f"{dataset}__{subset}.trec"

    def ensure_writable(self, model_slug: str | None = None) -> None:
        """Create the results folder (and model folder) and prove a file can be written there.

        Raises :class:`ResultsError` naming the path and what to do; call before any encoding.
        """
        folder = self.root / model_slug if model_slug else self.root
        created = False
        try:
            created = bool(model_slug) and not folder.exists()
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".jinavdr-write-test-")
            os.close(fd)
            os.unlink(probe)
            if created:  # made again by the first write: a model that fails to load leaves no folder
                with contextlib.suppress(OSError):
                    folder.rmdir()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ResultsError(
                f"cannot write results to {folder} ({reason}). Choose a writable folder with "
                "--results-dir, or fix the folder's permissions."
            ) from None

    def read(self, model_slug: str, dataset: str) -> ResultFile | None:
        """The file for (slug, dataset), or None when there is none; corrupt files raise."""
        path = self.path(model_slug, dataset)
        if not path.exists():
            return None
        return read_result_file(path)

    def finished_subsets(self, model_slug: str, dataset: str, manifest: Manifest) -> set[str]:
        """Subsets already in the file; raises :class:`ResultsError` if its settings differ."""
        existing = self.read(model_slug, dataset)
        if existing is None:
            return set()
        check_compatible(existing, manifest, self.path(model_slug, dataset))
        return set(existing.subsets)

    def add_subset(
        self,
        *,
        model: str,
        model_slug: str,
        dataset: str,
        manifest: Manifest,
        result: SubsetResult,
        replace_incompatible: bool = False,
    ) -> ResultFile:
        """Merge one finished subset into its file under the lock, then write atomically.

        The file is re-read under the lock, so subsets written meanwhile by another process are kept.
        With ``replace_incompatible`` a corrupt file or one with other settings is moved aside to
        ``<dataset>.json.<time>.bak`` and replaced; without it, that raises :class:`ResultsError`.
        """
        path = self.path(model_slug, dataset)
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path):
            remove_stale_temp_files(path)
            current = self._read_for_update(path, manifest, replace_incompatible)
            if current is None:
                current = ResultFile(
                    model=model,
                    model_slug=model_slug,
                    dataset=dataset,
                    protocol=manifest.protocol,
                    manifest=manifest,
                )
            subsets = dict(current.subsets)
            subsets[result.subset] = result
            updated = current.model_copy(update={"subsets": dict(sorted(subsets.items()))})
            write_result_file(path, updated)
        return updated

    def _read_for_update(self, path: Path, manifest: Manifest, replace: bool) -> ResultFile | None:
        if not path.exists():
            return None
        try:
            existing = read_result_file(path)
            check_compatible(existing, manifest, path)
            return existing
        except ResultsError:
            if not replace:
                raise
        stamp = time.strftime("%Y%m%dT%H%M%S")
        os.replace(path, path.with_name(f"{path.name}.{stamp}.bak"))
        return None


def dump_result_file(result: ResultFile) -> str:
    """The JSON text of a result file (stable key order, 2-space indent, trailing newline)."""
    return result.model_dump_json(indent=2) + "\n"
