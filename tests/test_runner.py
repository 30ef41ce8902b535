"""The runner: resume, crash safety, failure isolation, settings refusal, manifests, dry runs."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jinavdr.api as api
from jinavdr.catalogue.dataset import Corpus, Qrels, Queries, Subset
from jinavdr.engine.trec import read_run
from jinavdr.errors import JinaVDRError, ResultsError
from jinavdr.evaluation.metrics import evaluate
from jinavdr.execution.runner import ModelInfo, Runner, RunOptions, WorkUnit
from jinavdr.models.ranking import Run
from jinavdr.results.manifest import Environment
from jinavdr.results.schema import CacheStats, Timings
from jinavdr.results.store import ResultStore, read_result_file
from tests.run_fakes import ENCODER, SEARCHER, FakeEncoder, make_dataset

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------------
# The loop with an injected backend
# ---------------------------------------------------------------------------------------------------


def tiny_subset(dataset: str, name: str) -> Subset:
    """Two queries, three pages; query a's relevant page ranks 1st, query b's 2nd."""
    return Subset(
        dataset=dataset, name=name, queries=Queries(["a", "b"], ["qa", "qb"]),
        corpus=Corpus(["p1", "p2", "p3"], load_image=lambda i: None, texts=["x", "y", "z"], dataset=dataset),
        qrels=Qrels({"a": {"p1": 1}, "b": {"p3": 1}}), repo=f"org/{dataset}", revision="r" * 40,
    )


class FakeBackend:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.loaded = 0
        self.ran: list[str] = []

    def load_model(self):
        self.loaded += 1
        return object(), MODEL

    def load_subset(self, unit: WorkUnit, options: RunOptions) -> Subset:
        return tiny_subset(unit.dataset, unit.subset)

    def encode(self, model, subset, options, timings: Timings, cache: CacheStats, progress) -> Run:
        self.ran.append(f"{subset.dataset}:{subset.name}")
        if f"{subset.dataset}:{subset.name}" in self.fail:
            raise RuntimeError("GPU on fire")
        cache.pages_encoded = 3
        return Run(["a", "b"], ["p1", "p2", "p3"], np.array([[0, 1, 2], [1, 2, 0]]),
                   np.array([[3, 2, 1], [3, 2, 1]], dtype=np.float32))

    def evaluate(self, run, subset, options):
        ev = evaluate(run, subset.qrels, k_values=(1, 5))
        return ev.metrics, ev.values("ndcg_at_5")


MODEL = ModelInfo(name="fake", slug="fake", adapter="fake", model_id="org/fake", revision="m" * 40,
                  settings={"adapter": "fake", "vector": "multi"}, dtype="float32")
ENV = Environment(versions={"jinavdr": "test"}, device="cpu", gpu_name=None, hostname="h")


def units(*keys: str) -> list[WorkUnit]:
    out = []
    for key in keys:
        ds, sub = key.split(":")
        out.append(WorkUnit(dataset=ds, subset=sub, task=None, subset_spec=None, repo=f"org/{ds}", revision="r" * 40))
    return out


def make_runner(tmp_path: Path, backend: FakeBackend, **opts) -> Runner:
    return Runner(MODEL, backend, ResultStore(tmp_path), RunOptions(**opts), env=ENV)


def test_failing_unit_does_not_stop_the_others_and_rerun_finishes_only_it(tmp_path: Path):
    backend = FakeBackend(fail={"ds1:fr"})
    report = make_runner(tmp_path, backend).run(units("ds1:en", "ds1:fr", "ds2:default"))
    assert backend.ran == ["ds1:en", "ds1:fr", "ds2:default"]
    assert [u.key for u in report.completed] == ["ds1:en", "ds2:default"]
    [failure] = report.failures
    assert str(failure) == "ds1:fr: RuntimeError: GPU on fire"
    assert "Traceback" in failure.traceback
    assert report.exit_code == 1
    path = ResultStore(tmp_path).path("fake", "ds1")
    en_before = read_result_file(path).subsets["en"]
    # ds1 is partial: the benchmark mean covers the complete dataset only
    assert [(d.dataset, d.finished, d.total, d.complete) for d in report.datasets] == [
        ("ds1", 1, 2, False), ("ds2", 1, 1, True)]
    assert report.mean() == (pytest.approx(0.8154648767857288), 1, 2)

    backend2 = FakeBackend()
    report2 = make_runner(tmp_path, backend2).run(units("ds1:en", "ds1:fr", "ds2:default"))
    assert backend2.ran == ["ds1:fr"]
    assert [u.key for u in report2.skipped] == ["ds1:en", "ds2:default"]
    assert report2.ok and report2.exit_code == 0
    after = read_result_file(path)
    assert after.subsets["en"] == en_before  # the finished subset is untouched
    assert sorted(after.subsets) == ["en", "fr"]
    assert report2.mean()[1:] == (2, 2)


def test_model_is_not_loaded_when_everything_is_finished(tmp_path: Path):
    make_runner(tmp_path, FakeBackend()).run(units("ds1:en"))
    backend = FakeBackend()
    report = make_runner(tmp_path, backend).run(units("ds1:en"))
    assert backend.loaded == 0 and backend.ran == [] and [u.key for u in report.skipped] == ["ds1:en"]


def test_overwrite_reruns_finished_subsets(tmp_path: Path):
    make_runner(tmp_path, FakeBackend()).run(units("ds1:en"))
    backend = FakeBackend()
    make_runner(tmp_path, backend, overwrite=True).run(units("ds1:en"))
    assert backend.ran == ["ds1:en"]


def test_other_settings_are_refused_before_the_model_loads(tmp_path: Path):
    make_runner(tmp_path, FakeBackend()).run(units("ds1:en"))
    backend = FakeBackend()
    with pytest.raises(ResultsError) as err:
        make_runner(tmp_path, backend, k=10).run(units("ds1:en", "ds1:fr"))
    assert "run_options.k: 100 in the file, 10 now" in str(err.value)
    assert backend.loaded == 0 and backend.ran == []


def test_result_holds_metrics_per_query_counts_and_manifest(tmp_path: Path):
    make_runner(tmp_path, FakeBackend(), batch_size=4).run(units("ds1:en"))
    res = read_result_file(ResultStore(tmp_path).path("fake", "ds1"))
    sub = res.subsets["en"]
    # query a: relevant page at rank 1 -> 1.0; query b: at rank 2 -> 1/log2(3)
    assert sub.per_query.as_dict() == pytest.approx({"a": 1.0, "b": 1 / np.log2(3)})
    assert sub.metrics["ndcg_at_5"] == pytest.approx((1 + 1 / np.log2(3)) / 2)
    assert sub.metrics["ndcg_at_1"] == pytest.approx(0.5)
    assert (sub.n_queries, sub.n_pages, sub.n_qrels) == (2, 3, 2)
    assert sub.cache.pages_encoded == 3 and sub.peak_memory_mb is not None and sub.peak_memory_mb > 0
    m = res.manifest
    assert (m.model_id, m.model_revision, m.adapter, m.dtype) == ("org/fake", "m" * 40, "fake", "float32")
    assert (m.dataset_repo, m.dataset_revision, m.protocol) == ("org/ds1", "r" * 40, "beir")
    assert m.run_options == {"k": 100, "strict": False}
    assert m.batch_sizes == {"pages": 4, "queries": 32}
    assert (m.hostname, m.device) == ("h", "cpu")


class MaxSimAdapter:
    """Stands for an encoder whose embeddings the runner scores with MaxSim."""

    similarity = "maxsim"

    def encode_pages(self, pages, *, batch_size):  # never called: the fake backend returns a run
        raise AssertionError("not used")


class ScoredBackend(FakeBackend):
    def load_model(self):
        self.loaded += 1
        return MaxSimAdapter(), MODEL


def test_scoring_settings_are_recorded_but_a_run_resumes_and_compares_across_devices(tmp_path: Path):
    from jinavdr.report.compare import compare, setting_differences

    def run_on(device: str, root: Path, *keys: str) -> None:
        env = Environment(versions={"jinavdr": "test"}, device=device, gpu_name=None, hostname="h")
        report = Runner(MODEL, ScoredBackend(), ResultStore(root), RunOptions(), env=env).run(units(*keys))
        assert report.ok, report.failures

    run_on("cpu", tmp_path / "a", "ds1:en")
    cpu = read_result_file(ResultStore(tmp_path / "a").path("fake", "ds1"))
    assert cpu.manifest.run_options["scoring"] == {
        "similarity": "maxsim", "scoring_device": "cpu", "tiling": {"query_block": 64, "page_block": 2},
        "torch": cpu.manifest.run_options["scoring"]["torch"],
    }
    assert cpu.manifest.run_options["k"] == 100
    # the same model on a GPU (another block grid) extends the CPU run's file instead of refusing it
    run_on("cuda", tmp_path / "a", "ds1:en", "ds1:fr")
    assert sorted(read_result_file(ResultStore(tmp_path / "a").path("fake", "ds1")).subsets) == ["en", "fr"]
    # and a GPU run in its own folder compares with the CPU run without a settings mismatch
    run_on("cuda", tmp_path / "b", "ds1:en")
    gpu = read_result_file(ResultStore(tmp_path / "b").path("fake", "ds1"))
    assert gpu.manifest.run_options["scoring"]["tiling"] == {"query_block": 128, "page_block": 64}
    assert setting_differences(cpu, gpu) == []
    assert compare([cpu], [gpu]).passed
    # every other run option is still compared
    other_k = gpu.model_copy(update={"manifest": gpu.manifest.model_copy(update={"run_options": {
        **gpu.manifest.run_options, "k": 10}})})
    assert setting_differences(cpu, other_k) == [("run_options.k", 100, 10)]


# ---------------------------------------------------------------------------------------------------
# Through the public API with real loaders, registry, cache, scorer and metrics
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    return {
        "multi": make_dataset(root, "multi", ["en", "fr", "de"], seed=1),
        "single": make_dataset(root, "single", seed=5),
    }


def test_api_run_writes_complete_result_files(tmp_path: Path, data):
    report = api.run(SEARCHER, [str(data["multi"]), str(data["single"])], results_dir=tmp_path,
                     device="cpu", save_run=True)
    assert report.ok and len(report.completed) == 4
    files = api.load_results(tmp_path)
    assert [f.dataset for f in files] == ["multi", "single"]
    multi = files[0]
    assert sorted(multi.subsets) == ["de", "en", "fr"]
    assert multi.manifest.settings["scorer"] == "word-overlap"  # the adapter's own settings()
    assert multi.manifest.dataset_repo == str(data["multi"])
    for name in ("torch", "numpy", "datasets", "pytrec_eval", "transformers", "jinavdr"):
        assert name in multi.manifest.versions
    en = multi.subsets["en"]
    mean_pq = sum(en.per_query.values) / len(en.per_query.values)
    assert en.metrics["ndcg_at_5"] == pytest.approx(mean_pq)
    # the TREC run file re-evaluates to the stored numbers
    run_path = tmp_path / report.model_slug / en.run_file
    assert run_path == tmp_path / report.model_slug / "runs" / "multi__en.trec"
    from jinavdr.catalogue.loaders import load_subset

    subset = load_subset(api.work_units(str(data["multi"]))[1].task, "en")
    again = evaluate(read_run(run_path), subset.qrels)
    assert again.metrics["ndcg_at_5"] == pytest.approx(en.metrics["ndcg_at_5"])
    assert again.metrics["recall_at_100"] == pytest.approx(en.metrics["recall_at_100"])
    assert report.datasets[0].score == pytest.approx(multi.main_score())


def _run_in_subprocess(results: Path, task: str, env: dict[str, str], extra: str = "") -> subprocess.CompletedProcess:
    code = (
        "import jinavdr.api as api, sys\n"
        f"r = api.run({SEARCHER!r}, [{task!r}], results_dir={str(results)!r}, device='cpu', allow_failures=True{extra})\n"
        "sys.exit(r.exit_code)\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_kill_after_first_subset_then_rerun_finishes_only_the_missing_ones(tmp_path: Path, data):
    died = _run_in_subprocess(tmp_path, str(data["multi"]), {"JINAVDR_FAKE_DIE_AFTER": "1"})
    assert died.returncode == 137, died.stderr
    [path] = list(tmp_path.glob("*/multi.json"))
    first = read_result_file(path)
    assert list(first.subsets) == ["de"]  # only the finished subset, intact
    assert not list(path.parent.glob("*.tmp"))
    raw_de = json.loads(path.read_text())["subsets"]["de"]

    done = _run_in_subprocess(tmp_path, str(data["multi"]), {"JINAVDR_FAKE_DIE_AFTER": "2"})
    assert done.returncode == 0, done.stderr  # two units left: the process would die on a third
    final = json.loads(path.read_text())
    assert sorted(final["subsets"]) == ["de", "en", "fr"]
    assert final["subsets"]["de"] == raw_de


def test_failing_task_gives_nonzero_exit_and_others_finish(tmp_path: Path, data, monkeypatch):
    proc = _run_in_subprocess(tmp_path, str(data["single"]), {"JINAVDR_FAKE_FAIL": "single"})
    assert proc.returncode == 1
    report = api.run(SEARCHER, [str(data["single"]), str(data["multi"])], results_dir=tmp_path, device="cpu")
    assert report.ok  # nothing fails without the switch; multi ran too
    monkeypatch.setenv("JINAVDR_FAKE_FAIL", "multi")
    with pytest.raises(api.SubsetsFailedError) as info:  # by default: one exception naming each failure
        api.run(SEARCHER, [str(data["multi"]), str(data["single"])], results_dir=tmp_path / "c", device="cpu")
    message = str(info.value)
    assert message.startswith("3 of 4 subsets failed for model 'python:tests.run_fakes:FakeSearcher'")
    for lang in ("de", "en", "fr"):
        assert f"\n  multi:{lang}: RuntimeError: simulated failure on multi" in message
    assert "allow_failures=True" in message and "--allow" not in message  # arguments, not CLI flags
    assert info.value.exit_code == 1 and [u.key for u in info.value.report.completed] == ["single:default"]
    assert len(list((tmp_path / "c").rglob("single.json"))) == 1  # the finished subset was saved all the same
    report = api.run(SEARCHER, [str(data["multi"]), str(data["single"])], results_dir=tmp_path / "b", device="cpu",
                     allow_failures=True)
    assert [f.subset for f in report.failures] == ["de", "en", "fr"]
    assert all(f.message == "simulated failure on multi" for f in report.failures)
    assert [u.key for u in report.completed] == ["single:default"] and report.exit_code == 1


def _run_language(results: str, task: str, lang: str) -> None:
    report = api.run(SEARCHER, [task], results_dir=results, device="cpu", languages=lang)
    assert report.ok


def test_two_processes_on_different_subsets_of_one_dataset_both_land(tmp_path: Path, data):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_run_language, args=(str(tmp_path), str(data["multi"]), lang))
             for lang in ("en", "fr", "de")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    [path] = list(tmp_path.glob("*/multi.json"))
    assert sorted(read_result_file(path).subsets) == ["de", "en", "fr"]


def test_encoder_uses_the_cache_and_dry_run_counts_it(tmp_path: Path, data):
    cache = tmp_path / "cache"
    task = str(data["single"])
    plan = api.plan(ENCODER, task, results_dir=tmp_path / "r", cache_dir=cache)
    [unit] = plan.units
    assert (unit.status, unit.n_queries, unit.n_pages, unit.cached_queries, unit.cached_pages) == ("todo", 8, 12, 0, 0)
    assert not (tmp_path / "r").exists()  # a dry run writes nothing

    FakeEncoder.calls.update(queries=0, pages=0)
    first = api.run(ENCODER, task, results_dir=tmp_path / "r", cache_dir=cache, device="cpu")
    stats = read_result_file(tmp_path / "r" / first.model_slug / "single.json").subsets["default"].cache
    n_unique = 6  # two of the 8 query texts repeat an earlier one: encoded once
    assert FakeEncoder.calls == {"queries": n_unique, "pages": 12}
    assert (stats.queries_encoded, stats.queries_cached, stats.pages_encoded) == (n_unique, 8 - n_unique, 12)
    plan = api.plan(ENCODER, task, results_dir=tmp_path / "r2", cache_dir=cache)
    assert (plan.units[0].cached_queries, plan.units[0].cached_pages) == (8, 12)
    assert api.plan(ENCODER, task, results_dir=tmp_path / "r", cache_dir=cache).units[0].status == "done"

    second = api.run(ENCODER, task, results_dir=tmp_path / "r", cache_dir=cache, device="cpu", overwrite=True)
    assert FakeEncoder.calls == {"queries": n_unique, "pages": 12}  # nothing re-encoded
    res = read_result_file(tmp_path / "r" / second.model_slug / "single.json")
    assert res.subsets["default"].cache.model_dump() == {
        "queries_encoded": 0, "queries_cached": 8, "pages_encoded": 0, "pages_cached": 12}
    assert first.datasets[0].score == second.datasets[0].score


def test_k_is_validated_and_limits_cutoffs(tmp_path: Path, data):
    with pytest.raises(JinaVDRError, match="does not apply to protocol 'paper'"):
        api.run(SEARCHER, str(data["single"]), results_dir=tmp_path, protocol="paper", k=10)
    report = api.run(SEARCHER, str(data["single"]), results_dir=tmp_path, device="cpu", k=5)
    res = read_result_file(tmp_path / report.model_slug / "single.json")
    assert res.manifest.run_options["k"] == 5
    assert "ndcg_at_5" in res.subsets["default"].metrics and "ndcg_at_10" not in res.subsets["default"].metrics


def test_corrupt_result_file_is_named_before_work_and_overwrite_replaces_it(tmp_path: Path, data):
    first = api.run(SEARCHER, str(data["single"]), results_dir=tmp_path, device="cpu")
    path = tmp_path / first.model_slug / "single.json"
    path.write_text("{ not json")
    with pytest.raises(ResultsError, match=f"result file {path} is not valid JSON"):
        api.run(SEARCHER, str(data["single"]), results_dir=tmp_path, device="cpu")
    report = api.run(SEARCHER, str(data["single"]), results_dir=tmp_path, device="cpu", overwrite=True)
    assert report.ok and read_result_file(path).subsets["default"].metrics
    assert len(list(path.parent.glob("single.json.*.bak"))) == 1


# ---------------------------------------------------------------------------------------------------
# TREC run files and manifest helpers
# ---------------------------------------------------------------------------------------------------


def test_trec_writer_round_trip_skips_padding_and_rejects_spaces(tmp_path: Path):
    from jinavdr.engine.trec import run_lines, write_run

    run = Run(["q1", "q2"], ["a", "b", "c"], np.array([[2, 0, -1], [1, -1, -1]]),
              np.array([[0.5, 0.25, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32))
    assert list(run_lines(run, "tag")) == ["q1 Q0 c 1 0.5 tag", "q1 Q0 a 2 0.25 tag", "q2 Q0 b 1 1 tag"]
    path = write_run(tmp_path / "runs" / "x.trec", run, "tag")
    assert read_run(path) == {"q1": {"c": 0.5, "a": 0.25}, "q2": {"b": 1.0}}
    bad = Run(["q 1"], ["a"], np.array([[0]]), np.array([[1.0]], dtype=np.float32))
    with pytest.raises(ValueError, match="query id 'q 1' cannot be written"):
        list(run_lines(bad, "tag"))


def test_git_commit_inside_and_outside_a_checkout(tmp_path: Path):
    from jinavdr.results.manifest import git_commit

    assert git_commit(tmp_path) == (None, None)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    (tmp_path / "f").write_text("1")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True, env=env)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "x"], check=True, env=env)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_commit(tmp_path) == (head, False)
    (tmp_path / "f").write_text("2")
    assert git_commit(tmp_path) == (head, True)


def test_a_model_that_fails_to_load_is_a_message(tmp_path: Path):
    class Broken(FakeBackend):
        def load_model(self):
            raise OSError("checkpoint folder is empty")

    with pytest.raises(JinaVDRError, match="model 'fake' could not be loaded: OSError: checkpoint folder is empty"):
        make_runner(tmp_path, Broken()).run(units("ds1:en"))


def test_resume_when_the_data_revision_is_known_only_after_loading(tmp_path: Path):
    """Protocol 'paper': a unit's revision is None (the Hub commit is resolved when the subset
    loads), so the file's recorded commit must not refuse the resume of the other subsets."""
    def unknown_revision(*keys: str) -> list[WorkUnit]:
        return [WorkUnit(dataset=u.dataset, subset=u.subset, task=None, subset_spec=None, repo=u.repo)
                for u in units(*keys)]

    make_runner(tmp_path, FakeBackend()).run(unknown_revision("ds1:en"))
    backend = FakeBackend()
    report = make_runner(tmp_path, backend).run(unknown_revision("ds1:en", "ds1:fr"))
    assert report.ok, report.failures
    assert backend.ran == ["ds1:fr"]
    assert sorted(read_result_file(ResultStore(tmp_path).path("fake", "ds1")).subsets) == ["en", "fr"]


def test_a_subset_without_judged_queries_fails_clearly_before_any_encoding():
    """All queries dropped (no relevant page): a DataError naming the subset, no page encoded
    (ranking zero queries used to fail with 'query dimension 0 differs from page dimension')."""
    from jinavdr.errors import DataError
    from jinavdr.execution.runner import DefaultBackend
    from tests.test_encoding import CountingEncoder

    class Spec:
        def cache_key(self, device: str) -> str:
            return "key"

    empty = tiny_subset("ds1", "en")
    empty = Subset(dataset="ds1", name="en", queries=Queries([], []), corpus=empty.corpus, qrels=Qrels({}),
                   repo=empty.repo, revision=empty.revision, dropped_queries=2)
    encoder = CountingEncoder(page_input="text")
    with pytest.raises(DataError, match=r"ds1:en: no query has a relevant page .*\(2 queries were dropped\)"):
        DefaultBackend(Spec(), device="cpu").encode(encoder, empty, RunOptions(use_cache=False), Timings(),
                                                     CacheStats(), lambda *a: None)
    assert encoder.calls == []
