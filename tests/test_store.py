"""The result store: atomic writes, locking, resume information, settings checks, clear errors."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
from pathlib import Path

import pytest

from jinavdr.errors import ResultsError
from jinavdr.results.schema import Manifest, PerQuery, SubsetResult
from jinavdr.results.store import (
    ResultStore,
    check_compatible,
    read_result_file,
    settings_differences,
    write_atomic,
)


def make_manifest(**over) -> Manifest:
    base = dict(
        model_id="org/model", model_revision="a" * 40, adapter="fake",
        settings={"adapter": "fake", "vector": "multi"}, dataset_repo="org/data_beir",
        dataset_revision="b" * 40, protocol="beir", run_options={"k": 100, "strict": False},
        created_at="2025-01-01T00:00:00+00:00", hostname="host-a", versions={"torch": "2.0"},
    )
    base.update(over)
    return Manifest(**base)


def make_subset(name: str, score: float = 0.5) -> SubsetResult:
    return SubsetResult(
        subset=name, metrics={"ndcg_at_5": score}, per_query=PerQuery(query_ids=["q1"], values=[score]),
        n_queries=1, n_pages=2, n_qrels=1, finished_at="2025-01-01T00:00:00+00:00",
    )


def add(store: ResultStore, subset: str, score: float = 0.5, **kw):
    manifest = kw.pop("manifest", make_manifest())
    return store.add_subset(model="m", model_slug="m-slug", dataset="ds", manifest=manifest,
                            result=make_subset(subset, score), **kw)


# ---------------------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------------------


def test_write_atomic_replaces_content_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "f.json"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_crash_mid_write_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch):
    store = ResultStore(tmp_path)
    add(store, "en", 0.25)
    path = store.path("m-slug", "ds")
    before = path.read_text()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ResultsError, match=rf"cannot write {re.escape(str(path))} \(disk full\); nothing was changed"):
        add(store, "fr", 0.75)
    monkeypatch.undo()
    assert path.read_text() == before
    assert set(read_result_file(path).subsets) == {"en"}
    assert not list(path.parent.glob("*.tmp"))


def _write_then_die(path: str) -> None:
    """Start an atomic write, then die like kill -9 after half of the data is on disk."""
    import jinavdr.results.store as store_mod

    real_fdopen = os.fdopen

    class Dying:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            self.fh.flush()
            os._exit(9)

    store_mod.os.fdopen = lambda fd, *a, **k: Dying(real_fdopen(fd, *a, **k))
    store = store_mod.ResultStore(Path(path))
    add(store, "fr", 0.75)


def test_killed_writer_leaves_old_file_valid_and_next_write_cleans_up(tmp_path: Path):
    store = ResultStore(tmp_path)
    add(store, "en", 0.25)
    path = store.path("m-slug", "ds")
    before = path.read_text()
    proc = mp.get_context("spawn").Process(target=_write_then_die, args=(str(tmp_path),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 9
    assert path.read_text() == before  # the old file is intact
    assert len(list(path.parent.glob(".ds.json.*.tmp"))) == 1  # the half-written temp file
    add(store, "de", 0.5)  # the next locked write removes it
    assert not list(path.parent.glob("*.tmp"))
    assert set(read_result_file(path).subsets) == {"de", "en"}


# ---------------------------------------------------------------------------------------------------
# merging, resume, concurrency
# ---------------------------------------------------------------------------------------------------


def test_add_subset_merges_and_finished_subsets(tmp_path: Path):
    store = ResultStore(tmp_path)
    assert store.finished_subsets("m-slug", "ds", make_manifest()) == set()
    add(store, "en", 0.2)
    res = add(store, "ar", 0.4)
    assert list(res.subsets) == ["ar", "en"]
    assert res.main_score() == pytest.approx(0.3)
    assert store.finished_subsets("m-slug", "ds", make_manifest(hostname="other")) == {"ar", "en"}
    on_disk = read_result_file(store.path("m-slug", "ds"))
    assert on_disk == res
    assert on_disk.manifest.hostname == "host-a"  # the manifest of the run that created the file


def _add_many(root: str, worker: int, n: int) -> None:
    store = ResultStore(Path(root))
    for i in range(n):
        add(store, f"w{worker}-s{i}", 0.1 * worker)


def test_concurrent_writers_on_one_file_all_land(tmp_path: Path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(tmp_path), w, 6)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    res = read_result_file(ResultStore(tmp_path).path("m-slug", "ds"))
    assert set(res.subsets) == {f"w{w}-s{i}" for w in range(4) for i in range(6)}


# ---------------------------------------------------------------------------------------------------
# settings checks
# ---------------------------------------------------------------------------------------------------


def test_settings_mismatch_names_each_differing_setting(tmp_path: Path):
    store = ResultStore(tmp_path)
    add(store, "en")
    other = make_manifest(
        settings={"adapter": "fake", "vector": "single"}, run_options={"k": 10, "strict": False},
        hostname="host-b", versions={"torch": "2.5"}, created_at="2026-01-01T00:00:00+00:00",
    )
    with pytest.raises(ResultsError) as err:
        add(store, "fr", manifest=other)
    msg = str(err.value)
    assert str(store.path("m-slug", "ds")) in msg
    assert "settings.vector: 'multi' in the file, 'single' now" in msg
    assert "run_options.k: 100 in the file, 10 now" in msg
    assert "hostname" not in msg and "torch" not in msg  # environment fields may differ
    assert "--overwrite" in msg
    assert set(read_result_file(store.path("m-slug", "ds")).subsets) == {"en"}


def test_settings_differences_lists_protocol_and_revisions():
    old = make_manifest()
    new = make_manifest(protocol="paper", dataset_revision="c" * 40, dtype="float16")
    assert settings_differences(old, new) == [
        ("dtype", None, "float16"),
        ("dataset_revision", "b" * 40, "c" * 40),
        ("protocol", "beir", "paper"),
    ]


def test_resume_refuses_changed_local_content_but_not_a_moved_folder(tmp_path: Path):
    store = ResultStore(tmp_path)
    old_rev, new_rev = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    add(store, "en", manifest=make_manifest(dataset_repo="/home/dev/docs", dataset_revision=old_rev))
    moved = make_manifest(dataset_repo="/mnt/shared/docs-copy", dataset_revision=old_rev)  # same files elsewhere
    assert store.finished_subsets("m-slug", "ds", moved) == {"en"}
    add(store, "fr", manifest=moved)
    changed = make_manifest(dataset_repo="/home/dev/docs", dataset_revision=new_rev)
    with pytest.raises(ResultsError) as err:
        store.finished_subsets("m-slug", "ds", changed)
    assert f"dataset_revision: '{old_rev}' in the file, '{new_rev}' now" in str(err.value)
    assert "The data in /home/dev/docs changed since the file was written." in str(err.value)
    assert "dataset_repo" not in str(err.value)
    with pytest.raises(ResultsError, match="The data in /home/dev/docs changed"):
        add(store, "de", manifest=changed)
    stored = read_result_file(store.path("m-slug", "ds"))
    assert sorted(stored.subsets) == ["en", "fr"] and stored.manifest.dataset_repo == "/home/dev/docs"
    # a Hub repo is still compared by id and commit
    hub = settings_differences(make_manifest(), make_manifest(dataset_repo="org/other_beir"))
    assert hub == [("dataset_repo", "org/data_beir", "org/other_beir")]


def test_resume_of_a_real_folder_refuses_before_encoding_when_its_files_changed(tmp_path: Path):
    from jinavdr import api
    from jinavdr.catalogue.loaders import content_revision
    from tests.run_fakes import SEARCHER, make_dataset

    folder = make_dataset(tmp_path / "data", "docs", ["en", "fr"], seed=3)
    first = api.run(SEARCHER, [str(folder)], results_dir=tmp_path / "results", device="cpu", languages="en")
    assert first.ok
    [path] = list((tmp_path / "results").glob("*/docs.json"))
    before = content_revision(str(folder))
    assert read_result_file(path).manifest.dataset_revision == before
    target = sorted((folder / "fr" / "qrels").glob("*.parquet"))[0]
    target.write_bytes(target.read_bytes() + b"\0")  # any byte of any subset's files
    after = content_revision(str(folder))
    with pytest.raises(ResultsError) as err:
        api.run(SEARCHER, [str(folder)], results_dir=tmp_path / "results", device="cpu")
    assert f"dataset_revision: '{before}' in the file, '{after}' now" in str(err.value)
    assert list(read_result_file(path).subsets) == ["en"]


def test_partial_check_ignores_values_not_known_before_loading(tmp_path: Path):
    store = ResultStore(tmp_path)
    existing = add(store, "en", manifest=make_manifest(settings={"adapter": "fake", "vector": "multi", "commit": "x"}))
    early = make_manifest(model_revision=None, settings={"adapter": "fake", "vector": "multi"})
    check_compatible(existing, early, Path("p"), partial=True)
    with pytest.raises(ResultsError, match="settings.commit"):
        check_compatible(existing, early, Path("p"))


def test_overwrite_replaces_incompatible_file_and_keeps_a_backup(tmp_path: Path):
    store = ResultStore(tmp_path)
    add(store, "en", 0.2)
    res = add(store, "fr", 0.9, manifest=make_manifest(protocol="paper"), replace_incompatible=True)
    assert list(res.subsets) == ["fr"] and res.protocol == "paper"
    backups = list(store.path("m-slug", "ds").parent.glob("ds.json.*.bak"))
    assert len(backups) == 1
    assert "en" in json.loads(backups[0].read_text())["subsets"]


# ---------------------------------------------------------------------------------------------------
# reading errors, unwritable folder
# ---------------------------------------------------------------------------------------------------


def test_corrupt_file_is_named_with_a_fix(tmp_path: Path):
    path = tmp_path / "m" / "ds.json"
    path.parent.mkdir()
    path.write_text('{"schema_version": 1, "model": "m"')  # truncated
    with pytest.raises(ResultsError) as err:
        read_result_file(path)
    msg = str(err.value)
    assert msg.startswith(f"result file {path} is not valid JSON")
    assert "rename it to ds.json.bad" in msg and "--overwrite" in msg


def test_unknown_schema_version_is_named(tmp_path: Path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"schema_version": 7, "model": "m"}))
    with pytest.raises(ResultsError, match=r"has schema version 7, but this jinavdr reads version 1"):
        read_result_file(path)


def test_schema_violation_lists_fields(tmp_path: Path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"schema_version": 1, "model": "m", "model_slug": "m", "dataset": "ds"}))
    with pytest.raises(ResultsError, match=r"does not match schema version 1: manifest: Field required"):
        read_result_file(path)


def test_mteb_file_gets_an_import_hint(tmp_path: Path):
    path = tmp_path / "Task.json"
    path.write_text(json.dumps({"task_name": "X", "scores": {}}))
    with pytest.raises(ResultsError, match="jinavdr import"):
        read_result_file(path)


def test_unwritable_results_folder_is_reported_before_work(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = ResultStore(blocker / "results")
    with pytest.raises(ResultsError) as err:
        store.ensure_writable("m-slug")
    msg = str(err.value)
    assert f"cannot write results to {blocker / 'results' / 'm-slug'}" in msg
    assert "--results-dir" in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_reported(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ResultsError, match="cannot write results"):
            ResultStore(ro).ensure_writable()
    finally:
        ro.chmod(0o700)


def test_write_atomic_takes_text_and_bytes_creates_folders_and_honours_the_umask(tmp_path: Path):
    """The one atomic writer (results, TREC runs, embedding cache, leaderboards): no temp file left,
    and a new file gets 0o666 less the umask like open() gives (caches are shared between users)."""
    import os

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a" / "b.json", "é\n")
        write_atomic(tmp_path / "a" / "c.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "b.json").read_bytes() == "é\n".encode()
    assert (tmp_path / "a" / "c.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a" / "c.bin").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.json", "c.bin"]
