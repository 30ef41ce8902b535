"""Loading subsets: BEIR layout round trips, validation, lazy pages, QA layout, Hub errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest
from PIL import Image

from jinavdr import hub
from jinavdr.catalogue.dataset import PageDecodeError
from jinavdr.catalogue.loaders import (
    DataWarning,
    content_revision,
    load_qa_subset,
    load_subset,
    recorded_source,
)
from jinavdr.catalogue.tasks import TaskSpec, default_sample_dir, load_catalogue, task_from_folder
from jinavdr.errors import DataError

datasets = pytest.importorskip("datasets")
from datasets import Dataset, Features, Value  # noqa: E402
from datasets import Image as HFImage  # noqa: E402

PARQUET = "test-00000-of-00001.parquet"
QUERY_FEATURES = Features({"query-id": Value("string"), "query": Value("string")})
CORPUS_FEATURES = Features({"corpus-id": Value("string"), "image": HFImage(), "text_description": Value("string")})
QRELS_FEATURES = Features({"query-id": Value("string"), "corpus-id": Value("string"), "score": Value("int64")})


def png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


PAGES = {"d1": png((255, 0, 0), (30, 20)), "d2": png((0, 255, 0), (40, 10)), "d3": png((0, 0, 255), (8, 8))}


def write_part(folder: Path, data: dict, features: Features | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(data, features=features).to_parquet(str(folder / PARQUET))


def write_subset(root: Path, queries: dict, corpus: dict, qrels: dict, *, qrels_features=QRELS_FEATURES) -> None:
    """One subset in the exact Hub BEIR layout: Image features stored in the parquet by datasets."""
    write_part(root / "queries", queries, QUERY_FEATURES)
    write_part(root / "corpus", corpus, CORPUS_FEATURES)
    write_part(root / "qrels", qrels, qrels_features)


def corpus_of(pages: dict[str, bytes], texts: list[str | None] | None = None) -> dict:
    return {
        "corpus-id": list(pages),
        "image": [{"bytes": b, "path": None} for b in pages.values()],
        "text_description": texts if texts is not None else [f"text of {d}" for d in pages],
    }


@pytest.fixture
def folder(tmp_path) -> Path:
    """A two-language folder; ``en`` has a query with only a 0-grade qrel and one without qrels."""
    root = tmp_path / "docs"
    write_subset(
        root / "en",
        {"query-id": ["q1", "q2", "q3", "q4"], "query": ["red page", "green page", "zero only", "no qrels"]},
        corpus_of(PAGES, ["red", None, "blue"]),
        {"query-id": ["q1", "q2", "q2", "q3"], "corpus-id": ["d1", "d2", "d3", "d3"], "score": [1, 2, 1, 0]},
    )
    write_subset(
        root / "jp",
        {"query-id": ["k1"], "query": ["赤いページ"]},
        corpus_of({"p1": PAGES["d1"]}),
        {"query-id": ["k1"], "corpus-id": ["p1"], "score": [1]},
    )
    return root


# -------------------------------------------------------------------------------------------------
# Round trip
# -------------------------------------------------------------------------------------------------


def test_round_trip_of_a_hub_layout_folder(folder):
    task = task_from_folder(folder)
    subset = load_subset(task, "en")
    assert (subset.dataset, subset.name, subset.key) == ("docs", "en", "docs:en")
    assert subset.repo == str(folder.resolve()) and subset.revision == content_revision(task)
    assert subset.queries.ids == ["q1", "q2"] and subset.queries.texts == ["red page", "green page"]
    assert subset.dropped_queries == 2  # q3 (grade 0 only) and q4 (no qrels)
    assert subset.qrels.relevance == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 1}}
    corpus = subset.corpus
    assert corpus.ids == ["d1", "d2", "d3"] and corpus.dataset == "docs"
    assert corpus.texts == ["red", "", "blue"]
    assert corpus.sizes == [(30, 20), (40, 10), (8, 8)]
    assert corpus.group_ids is None
    expected = [hashlib.sha1(PAGES[d] + b"\x00" + t.encode()).hexdigest() for d, t in zip(PAGES, ["red", "", "blue"], strict=True)]
    assert corpus.hashes == expected
    image = corpus.image(1)
    assert image.size == (40, 10) and image.convert("RGB").getpixel((0, 0)) == (0, 255, 0)

    ja = load_subset(folder, "ja")  # a folder path works as a task; ja finds the jp subfolder
    assert ja.name == "jp" and ja.queries.texts == ["赤いページ"] and ja.dropped_queries == 0


def test_integer_ids_become_strings(tmp_path):
    write_part(tmp_path / "queries", {"query-id": [1, 2], "query": ["a", "b"]}, None)
    write_part(
        tmp_path / "corpus",
        {"corpus-id": [10, 20], "image": [{"bytes": PAGES["d1"], "path": None}] * 2},
        Features({"corpus-id": Value("int64"), "image": HFImage()}),
    )
    write_part(tmp_path / "qrels", {"query-id": [1, 2], "corpus-id": [10, 20], "score": [1, 1]}, None)
    subset = load_subset(str(tmp_path))
    assert subset.queries.ids == ["1", "2"] and subset.corpus.ids == ["10", "20"]
    assert subset.qrels.relevance == {"1": {"10": 1}, "2": {"20": 1}}
    assert subset.corpus.texts is None  # no text_description column
    assert len(set(subset.corpus.hashes)) == 1  # same bytes, no text: same hash


def test_image_columns_of_plain_bytes_or_relative_paths(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(PAGES["d2"])
    write_part(tmp_path / "queries", {"query-id": ["q"], "query": ["x"]}, None)
    write_part(tmp_path / "qrels", {"query-id": ["q"], "corpus-id": ["a"], "score": [1]}, None)
    write_part(tmp_path / "corpus", {"corpus-id": ["a"], "image": ["img/a.png"]}, None)  # paths, task-relative
    by_path = load_subset(str(tmp_path)).corpus
    assert by_path.sizes == [(40, 10)] and by_path.image(0).size == (40, 10)
    assert by_path.hashes == [hashlib.sha1(PAGES["d2"] + b"\x00").hexdigest()]
    write_part(tmp_path / "corpus", {"corpus-id": ["a"], "image": [PAGES["d2"]]}, None)  # plain binary
    by_bytes = load_subset(str(tmp_path)).corpus
    assert by_bytes.sizes == [(40, 10)] and by_bytes.hashes == by_path.hashes


def test_images_are_decoded_lazily_and_corrupt_pages_name_their_id(tmp_path):
    broken = {"good": PAGES["d1"], "bad": b"\x89PNG not really"}
    write_subset(
        tmp_path,
        {"query-id": ["q"], "query": ["x"]},
        corpus_of(broken),
        {"query-id": ["q"], "corpus-id": ["good"], "score": [1]},
    )
    subset = load_subset(str(tmp_path))  # loading never decodes pages
    assert subset.corpus.sizes == [(30, 20), (0, 0)]  # unreadable header: unknown size
    assert subset.corpus.image(0).size == (30, 20)
    with pytest.raises(PageDecodeError) as info:
        subset.corpus.image(1)
    assert info.value.doc_id == "bad"
    assert str(info.value).startswith(f"page 'bad' of dataset '{tmp_path.name}' could not be decoded as an image")


# -------------------------------------------------------------------------------------------------
# Validation
# -------------------------------------------------------------------------------------------------


def _counted(folder: Path, subset: str, **counts) -> TaskSpec:
    task = task_from_folder(folder)
    subsets = tuple(s.model_copy(update=counts) if s.name == subset else s for s in task.subsets)
    return task.model_copy(update={"subsets": subsets})


def test_count_mismatch_warns_with_both_numbers(folder):
    task = _counted(folder, "en", queries=5, pages=3, qrels=4)
    with pytest.warns(DataWarning) as record:
        load_subset(task, "en")
    assert [str(w.message) for w in record] == [
        f"docs:en: the task file expects 5 queries, loaded 4 (from {folder.resolve()})"
    ]
    task = _counted(folder, "en", queries=5, pages=3, qrels=2)
    with pytest.warns(DataWarning) as record:
        load_subset(task, "en")
    assert [str(w.message) for w in record] == [
        f"docs:en: the task file expects 5 queries, loaded 4; 2 qrels, loaded 4 (from {folder.resolve()})"
    ]


def test_matching_counts_do_not_warn(folder):
    task = _counted(folder, "en", queries=4, pages=3, qrels=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_subset(task, "en", strict=True)


def test_count_mismatch_is_an_error_when_strict(folder):
    task = _counted(folder, "en", queries=4, pages=3, qrels=9)
    with pytest.raises(DataError, match=r"^docs:en: the task file expects 9 qrels, loaded 4 \(from .*\); strict mode"):
        load_subset(task, "en", strict=True)


def test_dangling_qrels_name_the_ids(tmp_path):
    write_subset(
        tmp_path / "d",
        {"query-id": ["q1"], "query": ["x"]},
        corpus_of({"d1": PAGES["d1"]}),
        {"query-id": ["q1", "q9", "q1"], "corpus-id": ["d1", "d1", "d7"], "score": [1, 1, 1]},
    )
    with pytest.raises(DataError) as info:
        load_subset(str(tmp_path / "d"))
    assert str(info.value) == (
        f"d:default ({(tmp_path / 'd').resolve()}): the qrels name unknown query ids 'q9' and unknown page "
        "ids 'd7'; fix the qrels or the ids"
    )


def test_duplicate_ids_are_errors(tmp_path):
    write_subset(
        tmp_path / "q",
        {"query-id": ["q1", "q1", "q2"], "query": ["a", "b", "c"]},
        corpus_of({"d1": PAGES["d1"]}),
        {"query-id": ["q1"], "corpus-id": ["d1"], "score": [1]},
    )
    with pytest.raises(DataError, match=r"q:default \(.*\): duplicate query ids 'q1'; ids must be unique$"):
        load_subset(str(tmp_path / "q"))
    write_subset(
        tmp_path / "c",
        {"query-id": ["q1"], "query": ["a"]},
        {"corpus-id": ["d1", "d1"], "image": [{"bytes": PAGES["d1"], "path": None}] * 2, "text_description": ["", ""]},
        {"query-id": ["q1"], "corpus-id": ["d1"], "score": [1]},
    )
    with pytest.raises(DataError, match=r"duplicate page ids 'd1'; ids must be unique$"):
        load_subset(str(tmp_path / "c"))


def test_missing_column_is_an_error(tmp_path):
    write_subset(
        tmp_path,
        {"query-id": ["q1"], "query": ["a"]},
        corpus_of({"d1": PAGES["d1"]}),
        {"query-id": ["q1"], "corpus-id": ["d1"], "relevance": [1]},
        qrels_features=None,
    )
    with pytest.raises(DataError, match=r"the qrels have no column 'score' \(found query-id, corpus-id, relevance\)"):
        load_subset(str(tmp_path))


def test_missing_part_error_names_part_place_and_layout(folder):
    task = task_from_folder(folder)
    for f in (folder / "en" / "corpus").iterdir():
        f.unlink()
    with pytest.raises(DataError) as info:
        load_subset(task, "en")
    root = folder.resolve()
    assert str(info.value).startswith(
        f"local dataset {root}: the corpus of subset 'en' has no parquet files (expected {root}/en/corpus/*.parquet). "
        "Expected layout:\n<folder>/\n├── queries/"
    )


def test_several_subsets_need_a_name(folder):
    with pytest.raises(DataError, match=r"task 'docs' has 2 subsets \(en, jp\): name one"):
        load_subset(task_from_folder(folder))


# -------------------------------------------------------------------------------------------------
# Content revision of local folders
# -------------------------------------------------------------------------------------------------


def expected_revision(root: Path) -> str:
    """The documented formula: sha256 over (path length, relative path, sha256 of bytes), by path."""
    top = hashlib.sha256()
    for rel in sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet")):
        name = rel.encode()
        top.update(len(name).to_bytes(8, "big") + name + hashlib.sha256((root / rel).read_bytes()).digest())
    return "sha256:" + top.hexdigest()


def test_content_revision_is_stable_and_the_same_for_every_subset_and_place(folder, tmp_path):
    task = task_from_folder(folder)
    rev = content_revision(task)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", rev) and rev == expected_revision(folder)
    # one revision per dataset (its result file holds every subset), the same on every load
    assert load_subset(task, "en").revision == load_subset(folder, "jp").revision == rev
    assert load_subset(task, "en").revision == rev
    # the same files in another folder, under another name: same revision; the path given is recorded
    copy = Path(shutil.copytree(folder, tmp_path / "elsewhere" / "renamed"))
    moved = load_subset(copy, "en")
    assert moved.revision == rev and moved.repo == str(copy.resolve())


def test_content_revision_changes_when_a_parquet_byte_changes(folder):
    task = task_from_folder(folder)
    before = content_revision(task)
    target = folder / "jp" / "qrels" / PARQUET
    original = target.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0x01
    target.write_bytes(bytes(changed))  # in place: same path, same size
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a later edit has a later mtime
    after = content_revision(task)
    assert after != before and after == expected_revision(folder)
    target.write_bytes(original)  # the content, not the file time, decides
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000))
    assert content_revision(task) == before


def test_file_digests_are_cached_by_path_size_and_mtime(folder, monkeypatch):
    task = task_from_folder(folder)
    rev = content_revision(task)
    opened: list[str] = []
    real_open = Path.open

    def spy(self, *args, **kwargs):
        opened.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    assert content_revision(task) == rev and load_subset(task, "en").revision == rev
    assert opened == []  # nothing hashed again
    target = folder / "en" / "corpus" / PARQUET
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert content_revision(task) == rev and opened == [str(target)]  # only the touched file is read


def test_hub_tasks_record_their_pinned_commit():
    hub = load_catalogue().get("tabfquad")
    assert recorded_source(hub) == (hub.repo, hub.revision) and hub.recorded_repo == hub.repo
    with pytest.raises(DataError, match="is a Hub repo .*not a folder: it has no content revision"):
        content_revision(hub)


def test_sample_records_a_portable_repo_name_and_content_revision(tmp_path):
    sample = default_sample_dir()
    if not (sample / "catalogue.json").is_file():
        pytest.skip(f"sample collection not generated yet at {sample} (run scripts/make_sample.py)")
    task = load_catalogue().select("sample")[0].task
    subset = load_subset(task, task.subsets[0])
    assert subset.repo == task.recorded_repo == f"jinavdr-sample/{task.name}"
    assert subset.revision == content_revision(task) == expected_revision(Path(task.repo))
    # another install of the same sample (a CI checkout, a wheel) records the same repo and revision
    copy = Path(shutil.copytree(sample, tmp_path / "site-packages" / "sample"))
    elsewhere = load_catalogue(sample_dir=copy).get(task.name)
    assert elsewhere.repo != task.repo
    assert recorded_source(elsewhere) == (subset.repo, subset.revision)
    # the same folder passed by path is a user folder: its path is recorded, its revision is the same
    assert recorded_source(task_from_folder(copy / task.name)) == (str((copy / task.name).resolve()), subset.revision)


# -------------------------------------------------------------------------------------------------
# ViDoRe layout (parts by config name, v2 languages in a column), through a fake Hub
# -------------------------------------------------------------------------------------------------


def test_config_layout_and_query_language_filter(monkeypatch):
    parts = {
        "queries": Dataset.from_dict(
            {"query-id": [1, 2, 3, 4], "query": ["q fr", "q en", "q2 fr", "q2 en"],
             "language": ["french", "english", "french", "english"]}  # fmt: skip
        ),
        "corpus": Dataset.from_dict(corpus_of({"10": PAGES["d1"], "11": PAGES["d2"]}), features=CORPUS_FEATURES),
        "qrels": Dataset.from_dict({"query-id": [1, 2, 3, 4], "corpus-id": [10, 10, 11, 11], "score": [1, 1, 1, 0]}),
    }
    calls, snapshots = [], []

    def fake_load(path, name=None, *, split, revision=None, **kwargs):
        calls.append((path, name, split, revision, kwargs))
        return parts[name]

    def fake_snapshot(repo, repo_type, revision, patterns=None, ignore=()):
        snapshots.append((repo, repo_type, revision, patterns))
        return Path("/snapshot")

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setattr(hub, "snapshot", fake_snapshot)
    task = load_catalogue().get("vidore2-esg-reports")
    french = task.subset("fr").model_copy(update={"queries": 2, "pages": 2, "qrels": 2})
    subset = load_subset(task, french, strict=True)
    rev = "0542c0d03da0ec1c8cbc517c8d78e7e95c75d3d3"
    assert snapshots == [("vidore/esg_reports_v2", "dataset", rev, None)] * 3  # whole repo: the card's configs
    assert calls == [("/snapshot", part, "test", None, {}) for part in ("queries", "corpus", "qrels")]
    assert subset.queries.ids == ["1", "3"] and subset.qrels.relevance == {"1": {"10": 1}, "3": {"11": 1}}
    assert subset.revision == "0542c0d03da0ec1c8cbc517c8d78e7e95c75d3d3" and subset.repo == "vidore/esg_reports_v2"
    with pytest.warns(DataWarning, match=r"expects 57 queries, loaded 2; 1538 pages, loaded 2; 222 qrels, loaded 2 \(from vidore/"):
        english = load_subset(task, "en")  # q4 has only a 0 grade: dropped
    assert english.queries.ids == ["2"] and english.dropped_queries == 1


def test_beir_layout_loads_parts_by_data_dir(monkeypatch, tmp_path):
    write_subset(
        tmp_path, {"query-id": ["q"], "query": ["x"]}, corpus_of({"d": PAGES["d1"]}),
        {"query-id": ["q"], "corpus-id": ["d"], "score": [1]},
    )  # fmt: skip
    snapshot = tmp_path / "snapshot"
    shutil.copytree(tmp_path, snapshot / "jp", ignore=shutil.ignore_patterns("snapshot"))
    calls = []

    def fake_snapshot(repo, repo_type, revision, patterns=None, ignore=()):
        calls.append((repo, repo_type, revision, patterns))
        return snapshot

    monkeypatch.setattr(hub, "snapshot", fake_snapshot)
    task = load_catalogue().get("airbnb-synthetic")
    with pytest.warns(DataWarning) as record:
        subset = load_subset(task, "ja")
    rev = "14c4c816fff158d20719bebf414d495efeaedc20"
    assert [str(w.message) for w in record] == [
        "airbnb-synthetic:jp: the task file expects 492 queries, loaded 1; 1000 pages, loaded 1; 492 qrels, "
        f"loaded 1 (from jinaai/airbnb-synthetic-retrieval_beir at revision {rev})"
    ]
    patterns = ["jp/queries/*", "jp/corpus/*", "jp/qrels/*"]
    assert calls == [("jinaai/airbnb-synthetic-retrieval_beir", "dataset", rev, patterns)] * 3
    assert subset.revision == rev and subset.queries.ids == ["q"]


# -------------------------------------------------------------------------------------------------
# Hub failures
# -------------------------------------------------------------------------------------------------


def test_offline_hub_says_what_failed_and_how_to_use_a_local_copy(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    task = TaskSpec(repo="jinavdr-test/not-cached-anywhere_beir", name="nowhere", revision="0" * 40,
                    subsets=[{"name": "default", "data_dir": "default"}])  # fmt: skip
    with pytest.raises(DataError) as info:
        load_subset(task)
    msg = str(info.value)
    assert msg.startswith(
        "cannot load the files of nowhere:default of jinavdr-test/not-cached-anywhere_beir at revision "
        + "0" * 40
        + ": the Hugging Face Hub is unreachable or offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) "
        "and the Hugging Face cache has no copy ("
    )
    assert "--local-dir DIR`) and pass" in msg and msg.endswith("pass that folder instead of the name: --tasks DIR.")


def _raise(exc: BaseException):
    def fake_load(*args, **kwargs):
        raise exc

    return fake_load


def test_gated_repo_gives_the_hub_reason(monkeypatch):
    from huggingface_hub.errors import GatedRepoError

    monkeypatch.setattr(hub, "snapshot", _raise(GatedRepoError("Access to dataset x is restricted.")))
    with pytest.raises(DataError) as info:
        load_subset("tabfquad")
    assert str(info.value) == (
        "cannot load the files of tabfquad:default of jinaai/tabfquad_beir at revision "
        "42f9ba0b1f1dd0a6b82be6e9547367e2fb555e21: the dataset is gated on the Hugging Face Hub (Access to "
        "dataset x is restricted.). Request access at https://huggingface.co/datasets/jinaai/tabfquad_beir, "
        "then log in (`hf auth login` or HF_TOKEN)."
    )


@pytest.mark.parametrize("kind", ["RepositoryNotFoundError", "DatasetNotFoundError", "RevisionNotFoundError"])
def test_missing_repo_or_revision_gives_the_hub_reason(monkeypatch, kind):
    import datasets.exceptions
    import huggingface_hub.errors

    cls = getattr(huggingface_hub.errors, kind, None) or getattr(datasets.exceptions, kind)
    monkeypatch.setattr(hub, "snapshot", _raise(cls("Dataset 'jinaai/x' doesn't exist on the Hub")))
    with pytest.raises(DataError) as info:
        load_subset("docvqa")
    assert str(info.value).startswith(
        "cannot load the files of docvqa:default of jinaai/docvqa_beir at revision "
        "d77d5d00a0047597a0ffc1ed25555078710e21b4: the Hugging Face Hub says: Dataset 'jinaai/x' doesn't "
        "exist on the Hub. Check the repo id and revision in the task file"
    )


def test_gated_message_from_datasets_is_recognised(monkeypatch):
    from datasets.exceptions import DatasetNotFoundError

    exc = DatasetNotFoundError("Dataset 'jinaai/x' is a gated dataset on the Hub. Visit the dataset page to ask for access.")
    monkeypatch.setattr(hub, "snapshot", _raise(exc))
    with pytest.raises(DataError, match=r"the dataset is gated on the Hugging Face Hub \(Dataset 'jinaai/x' is a gated"):
        load_subset("docvqa")


# -------------------------------------------------------------------------------------------------
# QA layout (paper protocol)
# -------------------------------------------------------------------------------------------------


def test_qa_layout_follows_the_paper_protocol(tmp_path):
    rows = {
        "query": ["where is red?", None, "where is red?", "green?", None, "green?"],
        "image": [{"bytes": PAGES[d], "path": None} for d in ("d1", "d2", "d3", "d2", "d1", "d3")],
        "image_filename": ["a.png", "b.png", "c.png", "b.png", "a.png", "c.png"],
        "text_description": ["t0", "t1", "t2", "t3", "t4", "t5"],
    }
    features = Features({"query": Value("string"), "image": HFImage(), "image_filename": Value("string"),
                         "text_description": Value("string")})  # fmt: skip
    write_part(tmp_path / "qa" / "default", rows, features)
    subset = load_qa_subset("tabfquad", source=tmp_path / "qa")
    # unique texts, first row kept; the relevant page is the LAST row's filename
    assert subset.queries.ids == ["q-0", "q-3"] and subset.queries.texts == ["where is red?", "green?"]
    assert subset.qrels.relevance == {"q-0": {"c.png": 1}, "q-3": {"c.png": 1}}
    # every row is a page (no dedup); group ids are the filenames the scorer merges by max
    assert subset.corpus.ids == [f"row-{i}" for i in range(6)]
    assert subset.corpus.group_ids == rows["image_filename"]
    assert subset.corpus.texts == rows["text_description"]
    assert subset.corpus.image(4).size == (30, 20)
    assert subset.revision is None and subset.repo == str((tmp_path / "qa").resolve())
    assert (subset.dataset, subset.name, subset.dropped_queries) == ("tabfquad", "default", 0)


def test_qa_layout_needs_its_columns(tmp_path):
    write_part(tmp_path / "default", {"query": ["a"], "image": [{"bytes": PAGES["d1"], "path": None}]},
               Features({"query": Value("string"), "image": HFImage()}))  # fmt: skip
    with pytest.raises(DataError, match=r"QA \(.*, config 'default'\): the rows have no column 'image_filename'"):
        load_qa_subset("tabfquad", source=tmp_path)


def test_qa_offline_records_no_revision_and_explains(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=r"cannot load config 'default' of jinaai/tabfquad: the Hugging Face Hub is"):
        load_qa_subset("tabfquad")
    calls = []

    def fake_load(*args, **kwargs):
        calls.append((args, kwargs))
        return Dataset.from_dict(
            {"query": ["q"], "image": [{"bytes": PAGES["d1"], "path": None}], "image_filename": ["f.png"]},
            features=Features({"query": Value("string"), "image": HFImage(), "image_filename": Value("string")}),
        )

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    subset = load_qa_subset("github-readme", "ja")  # the config is the subset name, jp
    assert calls == [(("jinaai/github-readme-retrieval-multilingual",), {"name": "jp", "split": "test", "revision": None})]
    assert subset.revision is None and subset.repo == "jinaai/github-readme-retrieval-multilingual"
    assert subset.qrels.relevance == {"q-0": {"f.png": 1}} and subset.corpus.texts is None


# -------------------------------------------------------------------------------------------------
# The bundled sample loads through the same code path
# -------------------------------------------------------------------------------------------------


def test_sample_collection_loads():
    sample = default_sample_dir()
    if not (sample / "catalogue.json").is_file():
        pytest.skip(f"sample collection not generated yet at {sample} (run scripts/make_sample.py)")
    selection = load_catalogue().select("sample")
    listed = [e["name"] for e in json.loads((sample / "catalogue.json").read_text(encoding="utf-8"))]
    assert [task.name for task, _ in selection] == listed
    for task, subsets in selection:
        assert task.is_local and task.collections == ("sample",)
        for spec in subsets:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                subset = load_subset(task, spec, strict=True)  # counts.json must match the data
            assert len(subset.queries) + subset.dropped_queries == spec.queries
            assert len(subset.corpus) == spec.pages and subset.corpus.texts is not None
            assert subset.corpus.image(0).size == subset.corpus.sizes[0]


def test_a_null_qrels_score_names_the_row(tmp_path):
    write_subset(
        tmp_path / "n",
        {"query-id": ["q1"], "query": ["x"]},
        corpus_of({"d1": PAGES["d1"]}),
        {"query-id": ["q1"], "corpus-id": ["d1"], "score": [None]},
    )
    with pytest.raises(DataError, match=r"row 0 of the qrels \(query 'q1', page 'd1'\) has score None, which is not an "
                                        r"integer grade; fix that row of the qrels$"):
        load_subset(str(tmp_path / "n"))


# -------------------------------------------------------------------------------------------------
# Qrels and queries are validated, never coerced
# -------------------------------------------------------------------------------------------------

FLOAT_QRELS = Features({"query-id": Value("string"), "corpus-id": Value("string"), "score": Value("float64")})


def _qrels_case(tmp_path: Path, scores: list, pairs: list[tuple[str, str]] | None = None,
                features: Features = QRELS_FEATURES) -> Path:
    pairs = pairs or [("q1", "d1"), ("q2", "d2")][: len(scores)]
    write_subset(
        tmp_path / "g",
        {"query-id": ["q1", "q2"], "query": ["red", "green"]},
        corpus_of({"d1": PAGES["d1"], "d2": PAGES["d2"]}),
        {"query-id": [q for q, _ in pairs], "corpus-id": [d for _, d in pairs], "score": scores},
        qrels_features=features,
    )
    return tmp_path / "g"


def test_a_fractional_grade_is_refused_not_truncated(tmp_path):
    root = _qrels_case(tmp_path, [1.0, 0.5], features=FLOAT_QRELS)
    with pytest.raises(DataError, match=r"row 1 of the qrels \(query 'q2', page 'd2'\) has score 0.5, which is not an "
                                        r"integer grade \(fractional grades are not rounded\)"):
        load_subset(str(root))


def test_whole_float_grades_are_integers(tmp_path):
    subset = load_subset(str(_qrels_case(tmp_path, [1.0, 2.0], features=FLOAT_QRELS)))
    assert subset.qrels.relevance == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert all(type(g) is int for docs in subset.qrels.relevance.values() for g in docs.values())


def test_a_pair_judged_twice_with_different_grades_names_both_rows(tmp_path):
    root = _qrels_case(tmp_path, [1, 1, 2], [("q1", "d1"), ("q2", "d2"), ("q1", "d1")])
    with pytest.raises(DataError, match=r"judge query 'q1' and page 'd1' twice with different grades \(1 in row 0, "
                                        r"2 in row 2\); keep one of the rows$"):
        load_subset(str(root))


def test_a_pair_repeated_with_the_same_grade_warns_and_is_counted(tmp_path):
    from jinavdr.catalogue.loaders import DataWarning

    root = _qrels_case(tmp_path, [1, 1, 1, 1], [("q1", "d1"), ("q2", "d2"), ("q1", "d1"), ("q1", "d1")])
    with pytest.warns(DataWarning, match=r"2 qrels row\(s\) repeat a \(query, page\) pair with the same grade"):
        subset = load_subset(str(root))
    assert subset.qrels.relevance == {"q1": {"d1": 1}, "q2": {"d2": 1}} and subset.duplicate_qrels == 2


def test_a_query_whose_only_judgement_is_negative_is_refused(tmp_path):
    """It used to be dropped silently as 'no relevant page'; docs/scoring.md promises an error."""
    root = _qrels_case(tmp_path, [1, -1])
    with pytest.raises(DataError, match=r"row 1 of the qrels \(query 'q2', page 'd2'\) has score -1, a negative grade"):
        load_subset(str(root))


def test_a_text_grade_is_refused(tmp_path):
    features = Features({"query-id": Value("string"), "corpus-id": Value("string"), "score": Value("string")})
    with pytest.raises(DataError, match=r"row 0 of the qrels \(query 'q1', page 'd1'\) has score '1', which is not"):
        load_subset(str(_qrels_case(tmp_path, ["1", "1"], features=features)))


def test_a_bytes_query_column_is_refused(tmp_path):
    root = tmp_path / "b"
    write_part(root / "queries", {"query-id": ["q1"], "query": [b"red"]},
               Features({"query-id": Value("string"), "query": Value("binary")}))
    write_part(root / "corpus", corpus_of({"d1": PAGES["d1"]}), CORPUS_FEATURES)
    write_part(root / "qrels", {"query-id": ["q1"], "corpus-id": ["d1"], "score": [1]}, QRELS_FEATURES)
    with pytest.raises(DataError, match=r"the queries' 'query' column has type binary, not text"):
        load_subset(str(root))


@pytest.mark.parametrize(("text", "what"), [(None, "null"), ("", "empty"), ("  \t", "only whitespace")])
def test_a_blank_query_names_its_row(tmp_path, text, what):
    write_subset(
        tmp_path / "e",
        {"query-id": ["q1", "q2"], "query": ["red", text]},
        corpus_of({"d1": PAGES["d1"]}),
        {"query-id": ["q1", "q2"], "corpus-id": ["d1", "d1"], "score": [1, 1]},
    )
    with pytest.raises(DataError, match=rf"row 1 of the queries \(query 'q2'\) has a {what} query text; fix or remove"):
        load_subset(str(tmp_path / "e"))


def test_qa_layout_refuses_blank_and_bytes_queries(tmp_path):
    features = Features({"query": Value("string"), "image": HFImage(), "image_filename": Value("string")})
    write_part(tmp_path / "w" / "default", {"query": ["a", " "], "image": [{"bytes": PAGES["d1"], "path": None}] * 2,
                                            "image_filename": ["a.png", "b.png"]}, features)
    with pytest.raises(DataError, match=r"row 1 has an only-whitespace query text"):
        load_qa_subset("tabfquad", source=tmp_path / "w")
    features = Features({"query": Value("binary"), "image": HFImage(), "image_filename": Value("string")})
    write_part(tmp_path / "b" / "default", {"query": [b"a"], "image": [{"bytes": PAGES["d1"], "path": None}],
                                            "image_filename": ["a.png"]}, features)
    with pytest.raises(DataError, match=r"the 'query' column has type binary, not text"):
        load_qa_subset("tabfquad", source=tmp_path / "b")
