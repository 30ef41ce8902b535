"""The task catalogue: task files vs the reference facts and mteb, collections, selection, CLI."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from jinavdr.catalogue.tasks import (
    Catalogue,
    SubsetSpec,
    TaskSpec,
    default_sample_dir,
    default_tasks_dir,
    get_task,
    load_catalogue,
    normalize_language,
    select,
    task_from_folder,
)
from jinavdr.cli.tasks import register
from jinavdr.errors import DataError, JinaVDRError, UnknownNameError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _csv_rows(reference_dir: Path) -> list[dict[str, str]]:
    with (reference_dir / "jinavdr-subsets.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _readme_table(reference_dir: Path) -> dict[str, list[str]]:
    text = (reference_dir / "README.md").read_text(encoding="utf-8")
    block = text.split("| dataset | domain |", 1)[1]
    rows = {}
    for line in block.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


# -------------------------------------------------------------------------------------------------
# Task files vs the reference facts
# -------------------------------------------------------------------------------------------------


def test_jinavdr_collection_has_43_datasets_and_96_subsets(catalogue):
    tasks = catalogue.collection("jinavdr")
    assert len(tasks) == 43
    assert sum(len(t.subsets) for t in tasks) == 96
    assert catalogue.collection("all") == tasks
    assert sum(t.expected("queries") for t in tasks) == 55_776  # PROTOCOL.md section 6
    assert sum(t.expected("pages") for t in tasks) == 70_615
    assert sorted(t.name for t in tasks if t.multilingual) == [
        "airbnb-synthetic", "github-readme", "tweet-stock-synthetic", "wikimedia-commons-documents",
    ]  # fmt: skip


def test_vidore_collections(catalogue):
    v1, v2 = catalogue.collection("vidore-v1"), catalogue.collection("vidore-v2")
    assert len(v1) == 10 and all(len(t.subsets) == 1 for t in v1)
    assert len(v2) == 4 and sum(len(t.subsets) for t in v2) == 13
    assert {t.layout for t in v1 + v2} == {"beir-configs"}
    esg = catalogue.get("vidore2-esg-reports")
    assert [(s.name, s.languages, s.query_language) for s in esg.subsets] == [
        ("french", ("fr",), "french"), ("spanish", ("es",), "spanish"),
        ("english", ("en",), "english"), ("german", ("de",), "german"),
    ]  # fmt: skip
    assert (esg.subsets[0].queries, esg.subsets[0].pages, esg.subsets[0].qrels) == (57, 1538, 222)


def test_task_files_match_reference_csv(catalogue, reference_dir):
    rows = _csv_rows(reference_dir)
    assert len(rows) == 96
    by_mteb = {t.mteb_name: t for t in catalogue.collection("jinavdr")}
    seen = set()
    for row in rows:
        task = by_mteb[row["mteb_task"]]
        subset = task.subset(row["subset"])
        seen.add((task.name, subset.name))
        assert task.repo == row["hf_path"]
        assert task.revision == row["revision"]
        assert subset.name == row["subset"]
        assert f"{subset.data_dir}/{{queries,corpus,qrels}}" == row["data_dir"]
        assert (subset.queries, subset.pages, subset.qrels) == (
            int(row["queries"]), int(row["documents"]), int(row["qrels"]),
        )  # fmt: skip
        assert subset.max_rel_per_query == int(row["max_rel_per_query"])
        assert subset.images.unique == int(row["unique_images"])
        assert (subset.images.max_w, subset.images.max_h) == (int(row["max_w"]), int(row["max_h"]))
        assert set(task.mteb_domains) == set(row["mteb_domains"].split("|"))
    assert len(seen) == 96  # every CSV row is its own subset, and no subset is missing


def test_task_files_match_readme_table(catalogue, reference_dir):
    table = _readme_table(reference_dir)
    assert len(table) == 43
    renames = {"hungarian_doc_qa_hu": "jinaai/hungarian_doc_qa_beir", "mpmqa-small": "jinaai/mpmqa_small_beir"}
    for readme_name, (domain, doc_format, query_format, languages) in table.items():
        task = catalogue.get(readme_name)  # the README name is an alias
        assert "jinavdr" in task.collections
        assert (task.domain, task.document_format, task.query_format) == (domain, doc_format, query_format)
        assert task.qa_repo == f"jinaai/{readme_name}"
        assert task.repo == renames.get(readme_name, f"jinaai/{readme_name}_beir")
        codes = [normalize_language(c) for c in re.findall(r"\b[a-z]{2}\b", languages.split("(")[0])]
        if codes:
            assert set(codes) <= set(task.languages)
    assert catalogue.get("tweet-stock-synthetic").subset("fr").languages == ("fr",)  # README omits fr
    assert len(catalogue.get("wikimedia-commons-documents").subsets) == 20


def test_task_files_regenerate_byte_for_byte_from_the_checkout(tmp_path, reference_dir):
    """scripts/make_task_files.py reads only the repository's tasks/reference/ facts (no mteb, no
    shared folder) and writes exactly the committed task files."""
    out = tmp_path / "tasks"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_task_files.py"), "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    committed = {p.name: p.read_bytes() for p in (REPO / "tasks").glob("*.toml")}
    assert len(committed) == 57
    assert {p.name: p.read_bytes() for p in out.glob("*.toml")} == committed
    assert (reference_dir / "vidore-mteb.json").is_file()


# Shift Project reports and questions are French (README table: fr); mteb labels both copies eng-Latn.
MTEB_LANGUAGE_EXCEPTIONS = {
    "VidoreShiftProjectRetrieval": ("eng-Latn", ("fr",)),
    "JinaVDRShiftProjectRetrieval": ("eng-Latn", ("fr",)),
}


def test_task_files_match_mteb_metadata(catalogue):
    mteb = pytest.importorskip("mteb")
    tasks = [t for t in catalogue if t.mteb_name]
    assert len(tasks) == 57
    for task in tasks:
        meta = mteb.get_task(task.mteb_name).metadata
        assert meta.dataset["path"] == task.repo, task.name
        assert meta.dataset["revision"] == task.revision, task.name
        assert meta.main_score == task.main_metric
        assert list(meta.hf_subsets) == [s.name for s in task.subsets], task.name
        langs = meta.eval_langs
        for subset in task.subsets:
            mteb_langs = langs[subset.name] if isinstance(langs, dict) else langs
            if task.mteb_name in MTEB_LANGUAGE_EXCEPTIONS:
                assert (mteb_langs[0], subset.languages) == MTEB_LANGUAGE_EXCEPTIONS[task.mteb_name]
                continue
            assert {normalize_language(code) for code in mteb_langs} <= set(subset.languages), task.name
    v1 = {t.metadata.name for t in mteb.get_benchmark("ViDoRe(v1)").tasks}
    v2 = {t.metadata.name for t in mteb.get_benchmark("ViDoRe(v2)").tasks}
    assert {t.mteb_name for t in catalogue.collection("vidore-v1")} == v1
    assert {t.mteb_name for t in catalogue.collection("vidore-v2")} == v2


def test_every_task_file_is_valid_toml_named_after_its_task():
    files = sorted(default_tasks_dir().glob("*.toml"))
    assert len(files) == 57
    for f in files:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
        assert data["name"] == f.stem
        TaskSpec.model_validate(data)


# -------------------------------------------------------------------------------------------------
# Names, aliases, languages
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("tabfquad", "tabfquad"),
        ("JinaVDRTabFQuadRetrieval", "tabfquad"),
        ("jinaai/tabfquad_beir", "tabfquad"),
        ("arabic_chartqa_ar", "arabic-chartqa"),
        ("ARABIC_CHARTQA", "arabic-chartqa"),
        ("jinaai/hungarian_doc_qa_beir", "hungarian-doc-qa"),
        ("hungarian_doc_qa_hu", "hungarian-doc-qa"),
        ("mpmqa-small", "mpmqa-small"),
        ("VidoreTatdqaRetrieval", "vidore-tatdqa"),
        ("vidore/esg_reports_v2", "vidore2-esg-reports"),
    ],
)
def test_aliases(alias, name):
    assert get_task(alias).name == name


@pytest.mark.parametrize(
    ("code", "iso"), [("jp", "ja"), ("ja", "ja"), ("JA", "ja"), ("jpn-Jpan", "ja"), ("zh-Hans", "zh"), ("eng", "en")]
)
def test_normalize_language(code, iso):
    assert normalize_language(code) == iso


def test_task_properties(catalogue):
    airbnb = catalogue.get("airbnb-synthetic")
    assert airbnb.multilingual and not airbnb.is_local
    assert airbnb.collection == "jinavdr"
    assert airbnb.subset("ja") is airbnb.subset("jp")
    assert airbnb.subset("jp").language == "ja" and airbnb.subset("jp").data_dir == "jp"
    assert airbnb.subset("jp").part_dir("corpus") == "jp/corpus"
    tabfquad = catalogue.get("tabfquad")
    assert not tabfquad.multilingual and tabfquad.subsets[0].languages == ("fr", "en")
    assert tabfquad.subsets[0].language is None
    assert catalogue.get("vidore-docvqa").subsets[0].part_dir("qrels") == "qrels"


# -------------------------------------------------------------------------------------------------
# Selection
# -------------------------------------------------------------------------------------------------


def _names(selection) -> list[tuple[str, list[str]]]:
    return [(t.name, [s.name for s in subsets]) for t, subsets in selection]


def test_select_defaults_to_jinavdr():
    selection = select()
    assert len(selection) == 43 and sum(len(s) for _, s in selection) == 96


def test_ja_and_jp_mean_japanese():
    expected = [
        ("airbnb-synthetic", ["jp"]), ("automobile-catalogue", ["default"]), ("github-readme", ["jp"]),
        ("jdocqa", ["default"]), ("ramen-benchmark", ["default"]), ("tweet-stock-synthetic", ["jp"]),
        ("wikimedia-commons-documents", ["jp"]),
    ]  # fmt: skip
    assert _names(select("jinavdr", languages="ja")) == expected
    assert _names(select("jinavdr", languages=["jp"])) == expected
    assert _names(select("airbnb-synthetic:ja")) == _names(select("airbnb-synthetic:jp")) == [("airbnb-synthetic", ["jp"])]


def test_select_dataset_lang_order_and_merging():
    selection = select(["tabfquad", "github-readme:fr,github-readme:de", "github-readme:fr", "vidore-v2"])
    names = _names(selection)
    assert names[0] == ("tabfquad", ["default"])
    assert names[1] == ("github-readme", ["de", "fr"])  # task order of subsets, no duplicates
    assert [n for n, _ in names[2:]] == [t.name for t in load_catalogue().collection("vidore-v2")]


def test_select_filters():
    assert _names(select("vidore-v2", languages="de")) == [
        ("vidore2-biomedical-lectures", ["german"]), ("vidore2-economics-reports", ["german"]),
        ("vidore2-esg-reports", ["german"]),
    ]  # fmt: skip
    gov = select("all", domains="government")  # prefix: "Government" and "Governmental"
    assert [t.name for t, _ in gov] == ["docqa-gov-report", "hindi-gov-vqa", "shanghai-master-plan"]
    scans = select("jinavdr", formats="scans")  # matches "Scans / Handwriting" too
    assert "donut-vqa" in [t.name for t, _ in scans] and len(scans) == 7
    assert {t.document_format.split(" / ")[0] for t, _ in scans} == {"Scans"}
    both = select("jinavdr", formats="tables", languages="fr")
    assert _names(both) == [("airbnb-synthetic", ["fr"]), ("tabfquad", ["default"])]
    assert _names(select("jinavdr", domains="software,energy", formats="markdown")) == [
        ("github-readme", [s.name for s in get_task("github-readme").subsets])
    ]


def test_unknown_task_lists_close_matches():
    with pytest.raises(UnknownNameError) as info:
        select("tabfqad")
    msg = str(info.value)
    assert msg.startswith("unknown task 'tabfqad'. Did you mean: tabfquad, ")
    assert "NAME:LANGUAGE" in msg and "`jinavdr tasks`" in msg


def test_unknown_collection_lists_valid_ones(catalogue):
    with pytest.raises(UnknownNameError) as info:
        catalogue.collection("vidore-v3")
    assert str(info.value) == (
        "unknown collection 'vidore-v3'. Did you mean: vidore-v2, vidore-v1? "
        "Valid collections: all, jinavdr, sample, vidore-v1, vidore-v2."
    )


def test_unknown_language_errors():
    with pytest.raises(UnknownNameError) as info:
        select("github-readme:klingon")
    assert str(info.value).startswith("unknown language 'klingon'.")
    assert "(subsets of task 'github-readme')" in str(info.value)
    with pytest.raises(UnknownNameError) as info:
        select("jinavdr", languages="jap")
    assert str(info.value).startswith("unknown language 'jap'. Did you mean: jp, ja? Valid languages: ar, bn, de")
    with pytest.raises(UnknownNameError, match=r"unknown domain 'cooking'"):
        select("jinavdr", domains="cooking")
    with pytest.raises(UnknownNameError, match=r"unknown document format 'tabels'. Did you mean: Tables"):
        select("jinavdr", formats="tabels")


def test_empty_selection_is_an_error():
    with pytest.raises(JinaVDRError, match=r"^no subset matches vidore-v1 with languages=ur$"):
        select("vidore-v1", languages="ur")


# -------------------------------------------------------------------------------------------------
# Local folders and the sample collection
# -------------------------------------------------------------------------------------------------


def _touch_subset(folder: Path, parts=("queries", "corpus", "qrels")) -> None:
    for part in parts:
        (folder / part).mkdir(parents=True, exist_ok=True)
        (folder / part / "test-00000-of-00001.parquet").write_bytes(b"")


def test_folder_with_one_subset(tmp_path):
    _touch_subset(tmp_path / "My Docs")
    task = task_from_folder(tmp_path / "My Docs")
    assert task.name == "my-docs" and task.is_local and task.revision is None
    assert task.repo == str((tmp_path / "My Docs").resolve())
    assert [(s.name, s.data_dir, s.languages) for s in task.subsets] == [("default", "", ())]
    assert task.collections == ("local",)


def test_folder_with_language_subfolders_is_selectable(tmp_path, monkeypatch):
    for lang in ("en", "jp", "scans"):
        _touch_subset(tmp_path / "docs" / lang)
    (tmp_path / "docs" / "notes").mkdir()  # no parts: not a subset
    monkeypatch.chdir(tmp_path)
    (task, subsets), = select("./docs")
    assert [(s.name, s.data_dir, s.languages) for s in subsets] == [
        ("en", "en", ("en",)), ("jp", "jp", ("ja",)), ("scans", "scans", ()),
    ]  # fmt: skip
    assert _names(select("./docs:ja")) == [("docs", ["jp"])]
    assert _names(select(["./docs", "tabfquad"], languages="ja")) == [("docs", ["jp"])]


def test_folder_missing_a_part_says_which_and_where(tmp_path):
    _touch_subset(tmp_path / "docs", parts=("queries", "corpus"))
    with pytest.raises(DataError) as info:
        task_from_folder(tmp_path / "docs")
    msg = str(info.value)
    root = (tmp_path / "docs").resolve()
    assert msg.startswith(
        f"local dataset {root}: the qrels of subset 'default' is missing (expected {root}/qrels/*.parquet). "
        "Expected layout:\n<folder>/\n├── queries/"
    )
    assert "└── qrels/     *.parquet  columns: query-id (str), corpus-id (str), score (int, > 0 = relevant)" in msg


def test_folder_without_layout_and_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"has no queries/, corpus/ or qrels/ folder.*Expected layout:\n<folder>/"):
        select(str(tmp_path / "empty"))
    with pytest.raises(DataError, match=r"task folder .*nowhere does not exist \(and '.*nowhere' is no task name"):
        select(str(tmp_path / "nowhere"))


def test_sample_collection_from_generator_files(tmp_path):
    """The sample's tasks come from catalogue.json / counts.json as the generator writes them."""
    sample = tmp_path / "sample"
    _touch_subset(sample / "shop-catalogues" / "en")
    _touch_subset(sample / "shop-catalogues" / "jp")
    _touch_subset(sample / "agency-reports" / "default")
    (sample / "catalogue.json").write_text(
        '[{"name": "agency-reports", "description": "Reports.", "domain": "Government",'
        ' "document_format": "Digital Docs", "query_format": "Question", "languages": ["default"],'
        ' "subset_languages": {"default": ["en"]}},'
        ' {"name": "shop-catalogues", "description": "Shops.", "domain": "Marketing",'
        ' "document_format": "Catalog", "query_format": "Question", "languages": ["en", "jp"]}]'
    )
    (sample / "counts.json").write_text(
        '{"agency-reports": {"default": {"queries": 5, "documents": 9, "qrels": 7, "max_rel_per_query": 3}},'
        ' "shop-catalogues": {"en": {"queries": 2, "documents": 4, "qrels": 2, "max_rel_per_query": 1},'
        ' "jp": {"queries": 3, "documents": 4, "qrels": 3, "max_rel_per_query": 1}}}'
    )
    cat = load_catalogue(default_tasks_dir(), sample_dir=sample)
    tasks = cat.collection("sample")
    assert [t.name for t in tasks] == ["agency-reports", "shop-catalogues"]
    shop = cat.get("shop-catalogues")
    assert (shop.domain, shop.document_format, shop.description) == ("Marketing", "Catalog", "Shops.")
    assert shop.is_local and shop.repo == str((sample / "shop-catalogues").resolve())
    assert [(s.name, s.languages, s.queries, s.pages, s.qrels) for s in shop.subsets] == [
        ("en", ("en",), 2, 4, 2), ("jp", ("ja",), 3, 4, 3),
    ]  # fmt: skip
    assert _names(cat.select("sample", languages="ja")) == [("shop-catalogues", ["jp"])]
    assert _names(cat.select("sample", languages="en")) == [("agency-reports", ["default"]), ("shop-catalogues", ["en"])]


def test_broken_sample_task_is_skipped_with_a_warning(tmp_path):
    _touch_subset(tmp_path / "good" / "default")
    _touch_subset(tmp_path / "bad" / "default", parts=("queries",))
    (tmp_path / "catalogue.json").write_text('[{"name": "bad"}, {"name": "good"}]')
    with pytest.warns(UserWarning, match=r"sample task 'bad' skipped: local dataset .*bad: the corpus of subset"):
        cat = load_catalogue(default_tasks_dir(), sample_dir=tmp_path)
    assert [t.name for t in cat.collection("sample")] == ["good"]


def test_missing_sample_collection_says_how_to_make_it(tmp_path):
    cat = load_catalogue(default_tasks_dir(), sample_dir=tmp_path / "none")
    with pytest.raises(DataError, match=r"sample collection is not installed .*scripts/make_sample.py"):
        cat.select("sample")


# -------------------------------------------------------------------------------------------------
# Task file validation
# -------------------------------------------------------------------------------------------------

_MINIMAL = 'name = "{name}"\nrepo = "org/{name}_beir"\n{extra}\n[[subsets]]\nname = "default"\n'


def test_invalid_task_files_are_reported_with_their_path(tmp_path):
    (tmp_path / "a.toml").write_text(_MINIMAL.format(name="a", extra='revision = "main"'))
    with pytest.raises(DataError, match=r"invalid task file .*a.toml: revision 'main' is not a 40-hex commit id$"):
        load_catalogue(tmp_path, sample_dir=tmp_path)
    (tmp_path / "a.toml").write_text(_MINIMAL.format(name="b", extra=""))
    with pytest.raises(DataError, match=r"defines task 'b'; name the file b.toml"):
        load_catalogue(tmp_path, sample_dir=tmp_path)
    (tmp_path / "a.toml").write_text(_MINIMAL.format(name="a", extra='colour = "red"'))
    with pytest.raises(DataError, match=r"a.toml: colour: Extra inputs are not permitted$"):
        load_catalogue(tmp_path, sample_dir=tmp_path)


def test_alias_collisions_are_rejected(tmp_path):
    (tmp_path / "a.toml").write_text(_MINIMAL.format(name="a", extra='aliases = ["shared"]'))
    (tmp_path / "b.toml").write_text(_MINIMAL.format(name="b", extra='aliases = ["Shared"]'))
    with pytest.raises(DataError, match=r"tasks 'a' and 'b' both use the name or alias 'shared'"):
        load_catalogue(tmp_path, sample_dir=tmp_path)


def test_extra_task_folders_from_environment(tmp_path, monkeypatch):
    (tmp_path / "my-task.toml").write_text(_MINIMAL.format(name="my-task", extra=""))
    monkeypatch.setenv("JINAVDR_TASKS_PATH", str(tmp_path))
    cat = load_catalogue(default_tasks_dir(), sample_dir=tmp_path / "none")
    assert cat.get("my-task").repo == "org/my-task_beir" and len(cat) == 58


def test_subset_spec_rejects_unknown_fields():
    with pytest.raises(ValueError, match="extra"):
        SubsetSpec(name="x", colour="red")


# -------------------------------------------------------------------------------------------------
# Packaging: the task files ship inside the package as jinavdr._tasks
# -------------------------------------------------------------------------------------------------


def test_the_build_ships_task_files_and_finds_every_subpackage():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert config["package-dir"]["jinavdr._tasks"] == "tasks"
    assert "*.toml" in config["package-data"]["jinavdr._tasks"]
    assert "packages" not in config  # found by setup.py, never a hand-kept list
    import setuptools

    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "jinavdr").rglob("__init__.py")}
    found = set(setuptools.find_packages(str(REPO), include=["jinavdr", "jinavdr.*"]))
    assert on_disk <= found and {"jinavdr.engine", "jinavdr.report.render"} <= found
    assert '"jinavdr._tasks"' in (REPO / "setup.py").read_text(encoding="utf-8")


# -------------------------------------------------------------------------------------------------
# CLI
# -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["tasks", *args], env={"COLUMNS": "200"})


def test_cli_lists_collection_with_totals(cli):
    result = cli("jinavdr")
    assert result.exit_code == 0, result.output
    assert "43 tasks, 96 subsets, 55,776 queries, 70,615 pages" in result.output
    row = next(line for line in result.output.splitlines() if "│ tabfquad " in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["tabfquad", "jinavdr", "Mixed", "Tables", "fr en", "1", "125", "70"]


def test_cli_filters(cli):
    result = cli("--languages", "ja", "--formats", "tables")
    assert result.exit_code == 0, result.output
    assert "1 task, 1 subset, 492 queries, 1,000 pages" in result.output
    assert "airbnb-synthetic" in result.output
    result = cli("vidore-v2", "-l", "de", "-d", "finance")
    assert "vidore2-economics-reports" in result.output and "1 task, 1 subset, 58 queries, 452 pages" in result.output


def test_cli_show(cli):
    result = cli("show", "JinaVDRAirbnbSyntheticRetrieval")
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"revision\s+14c4c816fff158d20719bebf414d495efeaedc20", out)
    assert re.search(r"QA copy\s+jinaai/airbnb-synthetic-retrieval\n", out)
    assert "airbnb-synthetic: 10 subsets" in out
    assert re.search(r"│ jp\s+│ ja\s+│ jp\s+│\s+492 │\s+1,000 │\s+492 │\s+1 │ 1980x852 │", out)


def test_cli_errors_are_messages_not_tracebacks(cli):
    result = cli("tabfqad")
    assert result.exit_code == 2
    assert "error: unknown task 'tabfqad'. Did you mean: tabfquad" in result.output
    assert "Traceback" not in result.output
    result = cli("show", "nope-task")
    assert result.exit_code == 2 and "unknown task 'nope-task'" in result.output


def test_sample_dir_is_inside_the_package():
    assert default_sample_dir() == REPO / "jinavdr" / "assets" / "sample"
