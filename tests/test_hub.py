"""The Hub path against a real Hub-compatible server on 127.0.0.1 (olah, see tests/hub_server.py).

Tiny repositories are built with git from the bundled sample: a BEIR dataset repo with two commits
holding different subsets, a QA repo whose ``main`` moves, and a fake jina-embeddings-v4 checkpoint
(remote code, LoRA ``adapters/`` folder). Every check runs the real code in a subprocess with
``HF_ENDPOINT`` pointing at the server and a fresh ``HF_HOME`` (huggingface_hub reads both at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import hub_server

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "jinavdr" / "assets" / "sample"
PARQUET = "test-00000-of-00001.parquet"

pytestmark = pytest.mark.slow


def _qa_parquet(beir: Path, out: Path) -> Path:
    """The vidore-style QA layout of a BEIR subset: one row per (query, relevant page), then the
    unjudged pages as distractor rows without a query."""
    import pyarrow.parquet as pq
    from datasets import Dataset, Features, Image, Value

    queries = dict(zip(*pq.read_table(beir / "queries" / PARQUET).to_pydict().values(), strict=True))
    corpus = pq.read_table(beir / "corpus" / PARQUET).to_pylist()
    qrels = [r for r in pq.read_table(beir / "qrels" / PARQUET).to_pylist() if r["score"] > 0]
    pages = {p["corpus-id"]: p for p in corpus}
    rows = [(queries[r["query-id"]], pages[r["corpus-id"]]) for r in qrels]
    judged = {r["corpus-id"] for r in qrels}
    rows += [(None, p) for p in corpus if p["corpus-id"] not in judged]
    data = {"query": [q for q, _ in rows], "image": [p["image"] for _, p in rows],
            "image_filename": [p["corpus-id"] for _, p in rows],
            "text_description": [p["text_description"] for _, p in rows]}
    features = Features({"query": Value("string"), "image": Image(), "image_filename": Value("string"),
                         "text_description": Value("string")})
    out.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(data, features=features).to_parquet(str(out))
    return out


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    cli = hub_server.olah_cli()
    if cli is None:
        pytest.skip("olah is not installed: scripts/test.sh installs it into .venv-hub "
                    "(or set JINAVDR_OLAH to an olah-cli)")
    root = tmp_path_factory.mktemp("hub")
    server = hub_server.OlahServer(cli, root)
    shas: dict[str, str] = {}
    beir = server.repo("dataset", "test/sample_beir")
    shas["beir_a"] = commit = hub_server.commit(beir, {"default": SAMPLE / "company-charts" / "default"}, "charts")
    shas["beir_b"] = hub_server.commit(beir, {"default": SAMPLE / "botany-slides" / "default"}, "slides",
                                       replace=True)
    assert commit != shas["beir_b"]
    qa = server.repo("dataset", "test/sample_qa")
    build = root / "build"
    shas["qa_a"] = hub_server.commit(
        qa, {f"data/{PARQUET}": _qa_parquet(SAMPLE / "company-charts" / "default", build / "a.parquet")}, "a")
    shas["qa_b"] = hub_server.commit(
        qa, {f"data/{PARQUET}": _qa_parquet(SAMPLE / "botany-slides" / "default", build / "b.parquet")}, "b")
    from tests import tiny_models

    fake = tiny_models.build_fake_remote(build / "fake_v4", "FakeJinaV4", hidden_size=256)
    model = server.repo("model", "test/fake-jina-v4")
    adapter = json.dumps({"peft_type": "LORA", "r": 4}).encode()
    shas["model"] = hub_server.commit(model, {**{p.name: p for p in fake.iterdir()},
                                              "adapters/adapter_config.json": adapter,
                                              "big.bin": os.urandom(3_000_000)}, "fake v4")
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "hubtest.toml").write_text(textwrap.dedent(f"""\
        name = "hubtest"
        repo = "test/sample_beir"
        revision = "{shas['beir_a']}"
        layout = "beir"
        qa_repo = "test/sample_qa"
        [[subsets]]
        name = "default"
        languages = ["en"]
        data_dir = "default"
        """), encoding="utf-8")
    yield server, shas, tasks
    server.stop()


def _env(server: hub_server.OlahServer, home: Path, tasks: Path, *, offline: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HF_TOKEN"):
        env.pop(var, None)
    env.update(HF_ENDPOINT=server.url, HF_HOME=str(home), JINAVDR_TASKS_PATH=str(tasks), PYTHONPATH=str(REPO),
               JINAVDR_CACHE=str(home / "embeddings"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="20")
    if offline:
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def _py(code: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _jinavdr(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jinavdr", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_load_dataset_by_data_dir_at_two_pinned_commits(hub, tmp_path):
    """datasets' own Hub loader through the server: each commit gives its own data."""
    server, shas, tasks = hub
    out = _ok(_py(f"""
        import datasets
        for rev in ("{shas['beir_a']}", "{shas['beir_b']}"):
            ds = datasets.load_dataset("test/sample_beir", data_dir="default/queries", split="test", revision=rev)
            print(len(ds), ds[0]["query"][:30].replace(" ", "_"))
        """, _env(server, tmp_path / "hf", tasks)))
    lines = out.split("\n")[-3:-1]
    assert [line.split()[0] for line in lines] == ["47", "30"]  # company-charts, then botany-slides queries
    assert lines[0].split()[1] != lines[1].split()[1]


def test_load_subset_from_the_server_then_offline_from_the_cache(hub, tmp_path):
    server, shas, tasks = hub
    code = """
        from jinavdr.catalogue.loaders import load_subset
        s = load_subset("hubtest")
        print(s.repo, s.revision, len(s.queries.ids), len(s.corpus), s.queries.ids[0])
        """
    online = _ok(_py(code, _env(server, tmp_path / "hf", tasks))).split()
    assert online[:4] == ["test/sample_beir", shas["beir_a"], "47", "60"]
    server_down = _env(server, tmp_path / "hf", tasks, offline=True)
    server_down["HF_ENDPOINT"] = f"http://127.0.0.1:{hub_server.free_port()}"  # nothing listens there
    assert _ok(_py(code, server_down)).split() == online


def test_qa_copy_records_the_commit_main_resolves_to(hub, tmp_path):
    """The paper protocol's QA copy is unpinned: the commit main resolves to is recorded, and another
    commit gives other data (main moved from charts to slides here)."""
    server, shas, tasks = hub
    code = """
        from jinavdr.catalogue.loaders import load_qa_subset
        s = load_qa_subset("hubtest")
        print(s.revision, len(s.queries.ids))
        """
    env = _env(server, tmp_path / "hf", tasks)
    assert _ok(_py(code, env)).split()[-2:] == [shas["qa_b"], "30"]  # botany-slides' 30 questions
    qa = server.mirrors / "datasets" / "test" / "sample_qa"
    subprocess.run([*hub_server.GIT, "-C", str(qa), "reset", "-q", "--hard", shas["qa_a"]], check=True)
    try:
        assert _ok(_py(code, env)).split()[-2:] == [shas["qa_a"], "47"]  # company-charts' 47 questions
    finally:
        subprocess.run([*hub_server.GIT, "-C", str(qa), "reset", "-q", "--hard", shas["qa_b"]], check=True)


def test_model_snapshot_at_a_pinned_revision_with_its_adapters(hub, tmp_path):
    server, shas, tasks = hub
    out = _ok(_py(f"""
        from jinavdr import hub
        folder = hub.snapshot("test/fake-jina-v4", "model", "{shas['model']}", ignore=hub.MODEL_IGNORE)
        print(folder.name, (folder / "adapters" / "adapter_config.json").is_file(), (folder / "config.json").is_file())
        """, _env(server, tmp_path / "hf", tasks)))
    assert out.split()[-3:] == [shas["model"], "True", "True"]


@pytest.mark.parametrize("case", ["revision", "repo"])
def test_missing_revision_or_repo_is_named(hub, tmp_path, case):
    server, shas, tasks = hub
    repo, rev = ("test/sample_beir", "0" * 40) if case == "revision" else ("test/no-such-repo", shas["beir_a"])
    bad = tasks.parent / f"tasks-{case}"
    bad.mkdir(exist_ok=True)
    (bad / "badtask.toml").write_text(
        f'name = "badtask"\nrepo = "{repo}"\nrevision = "{rev}"\n[[subsets]]\nname = "default"\ndata_dir = "default"\n',
        encoding="utf-8")
    proc = _py("""
        from jinavdr.catalogue.loaders import load_subset
        from jinavdr.errors import DataError
        try:
            load_subset("badtask")
        except DataError as exc:
            print("DataError:", exc)
        """, _env(server, tmp_path / "hf", bad))
    out = _ok(proc)
    assert f"DataError: cannot load the files of badtask:default of {repo} at revision {rev}: " in out
    if case == "repo":  # olah answers 404 for an unknown repo at a commit (the Hub: 401 RepositoryNotFound)
        assert f"the Hugging Face Hub says: 404 Client Error.\n\nEntry Not Found for url: {server.url}" in out
        assert out.rstrip().endswith("Check the repo id and revision in the task file; for a private repo "
                                     "log in (`hf auth login` or HF_TOKEN).")
    else:  # olah answers an unknown revision with 500 (the Hub: 404 RevisionNotFound)
        assert "500 Server Error: Internal Server Error" in out


def test_gated_repository_says_how_to_get_access(tmp_path):
    """olah has no gated repositories: a minimal real HTTP server answers as the Hub does for them."""
    server = hub_server.GatedServer()
    try:
        tasks = tmp_path / "tasks"
        tasks.mkdir()
        (tasks / "gatedtask.toml").write_text(
            f'name = "gatedtask"\nrepo = "test/gated"\nrevision = "{"1" * 40}"\n'
            '[[subsets]]\nname = "default"\ndata_dir = "default"\n', encoding="utf-8")
        env = _env(server, tmp_path / "hf", tasks)  # type: ignore[arg-type]
        out = _ok(_py("""
            from jinavdr.catalogue.loaders import load_subset
            from jinavdr.errors import DataError
            try:
                load_subset("gatedtask")
            except DataError as exc:
                print("DataError:", exc)
            """, env))
    finally:
        server.stop()
    assert "the dataset is gated on the Hugging Face Hub" in out
    assert "Request access at https://huggingface.co/datasets/test/gated, then log in" in out


def test_interrupted_download_is_completed(hub, tmp_path):
    """A half-downloaded file (huggingface_hub's ``.incomplete`` blob) ends complete and correct. olah
    ignores Range for files of local repositories, so the client restarts that file here."""
    server, shas, tasks = hub
    env = _env(server, tmp_path / "hf", tasks)
    code = f"""
        import hashlib
        from huggingface_hub import hf_hub_download
        p = hf_hub_download("test/fake-jina-v4", "big.bin", revision="{shas['model']}")
        print(hashlib.sha256(open(p, "rb").read()).hexdigest())
        """
    full = _ok(_py(code, env)).split()[-1]
    cache = tmp_path / "hf" / "hub" / "models--test--fake-jina-v4"
    (blob,) = [b for b in (cache / "blobs").iterdir() if b.stat().st_size == 3_000_000]
    data = blob.read_bytes()
    for link in (cache / "snapshots").rglob("big.bin"):
        link.unlink()
    blob.unlink()
    Path(f"{blob}.incomplete").write_bytes(data[:1_000_000])
    assert _ok(_py(code, env)).split()[-1] == full
    assert blob.read_bytes() == data and not Path(f"{blob}.incomplete").exists()


def test_interrupted_download_resumes_with_a_range_request(tmp_path):
    """Against a server that honours Range, only the missing bytes are fetched (206)."""
    data = os.urandom(2_000_000)
    sha = "ab" * 20
    server = hub_server.RangeServer({"big.bin": data}, sha)
    try:
        env = _env(server, tmp_path / "hf", tmp_path)  # type: ignore[arg-type]
        code = f"""
            from huggingface_hub import hf_hub_download
            print(hf_hub_download("test/model", "big.bin", revision="{sha}"))
            """
        import hashlib

        blobs = tmp_path / "hf" / "hub" / "models--test--model" / "blobs"
        blobs.mkdir(parents=True)
        (blobs / f"{hashlib.sha256(data).hexdigest()}.incomplete").write_bytes(data[:1_500_000])
        path = Path(_ok(_py(code, env)).split()[-1])
    finally:
        server.stop()
    assert path.read_bytes() == data
    assert server.served == [("bytes=1500000-", 206)]


def test_prefetch_then_offline_run(hub, tmp_path):
    """`jinavdr prefetch` downloads the dataset and the pinned checkpoint (with its adapters); then an
    HF_HUB_OFFLINE=1 run with no server at all scores the subset."""
    server, shas, tasks = hub
    env = _env(server, tmp_path / "hf", tasks)
    model = ["--model", "jina-v4", "-o", "model_id=test/fake-jina-v4", "-o", f"revision={shas['model']}"]
    dry = _jinavdr(["prefetch", *model, "--tasks", "hubtest", "--dry-run"], env, tmp_path)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert f"missing  dataset test/sample_beir@{shas['beir_a'][:8]}" in dry.stdout
    assert f"missing  model test/fake-jina-v4@{shas['model'][:8]}" in dry.stdout
    fetched = _ok(_jinavdr(["prefetch", *model, "--tasks", "hubtest"], env, tmp_path))
    assert "downloading 2 item(s), " in fetched and "[2/2] model test/fake-jina-v4" in fetched
    assert "size unknown" not in fetched  # sizes come from the server's file listing
    assert "everything is cached" in _ok(_jinavdr(["prefetch", *model, "--tasks", "hubtest", "--dry-run"],
                                                  env, tmp_path))
    offline = _env(server, tmp_path / "hf", tasks, offline=True)
    offline["HF_ENDPOINT"] = f"http://127.0.0.1:{hub_server.free_port()}"  # no server: only the cache
    run = _ok(_jinavdr(["run", *model, "--tasks", "hubtest", "--device", "cpu", "--results-dir", "res"],
                       offline, tmp_path))
    (result,) = (tmp_path / "res").rglob("hubtest.json")
    manifest = json.loads(result.read_text())["manifest"]
    print(fetched, run)
    assert (manifest["dataset_repo"], manifest["dataset_revision"]) == ("test/sample_beir", shas["beir_a"])
    assert (manifest["model_id"], manifest["model_revision"]) == ("test/fake-jina-v4", shas["model"])


def test_offline_run_without_cache_fails_at_once_with_one_message(hub, tmp_path):
    server, shas, tasks = hub
    offline = _env(server, tmp_path / "empty-hf", tasks, offline=True)
    proc = _jinavdr(["run", "--model", "bm25", "--tasks", "hubtest", "--results-dir", "res"], offline, tmp_path)
    assert proc.returncode != 0
    err = " ".join(proc.stderr.split())  # rich wraps at the terminal width
    assert "1 item(s) are not in the Hugging Face cache and the Hub cannot be used: offline mode is on" in err
    assert "jinavdr prefetch --model bm25 --tasks hubtest" in err
    assert len(proc.stderr.strip().splitlines()) <= 12, proc.stderr


def test_unreachable_hub_fails_every_subset_at_once(tmp_path):
    """No Hub (a closed port) and nothing cached: one probe, then one short message naming all three
    subsets with the prefetch command, before any model or subset is loaded."""
    import time

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("hub-a", "hub-b", "hub-c"):
        (tasks / f"{name}.toml").write_text(
            f'name = "{name}"\nrepo = "test/{name}"\nrevision = "{"2" * 40}"\n'
            '[[subsets]]\nname = "default"\ndata_dir = "default"\n', encoding="utf-8")
    env = dict(os.environ)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE"):
        env.pop(var, None)
    closed = f"http://127.0.0.1:{hub_server.free_port()}"
    env.update(HF_ENDPOINT=closed, HF_HOME=str(tmp_path / "hf"), JINAVDR_TASKS_PATH=str(tasks),
               PYTHONPATH=str(REPO), COLUMNS="200")
    start = time.monotonic()
    proc = _jinavdr(["run", "--model", "bm25", "--tasks", "hub-a,hub-b,hub-c", "--results-dir", "res"],
                    env, tmp_path)
    seconds = time.monotonic() - start
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = " ".join(proc.stderr.split())
    assert (f"error: 3 item(s) are not in the Hugging Face cache and the Hub cannot be used: {closed} is "
            "unreachable") in err
    assert "Missing: hub-a:default, hub-b:default, hub-c:default." in err
    assert "jinavdr prefetch --model bm25 --tasks hub-a,hub-b,hub-c" in err
    assert len(proc.stderr.strip().splitlines()) <= 6, proc.stderr
    assert seconds < 120, seconds  # about 7 s of CPU here; before: ~23 s of retries per subset
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").rglob("*.json"))
