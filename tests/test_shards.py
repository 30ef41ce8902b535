"""``--shard i/n`` splits and ``jinavdr merge``: coverage, balance, determinism, merge, resume."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

import jinavdr.api as api
from jinavdr.cli import app
from jinavdr.errors import JinaVDRError, ResultsError
from jinavdr.execution.runner import WorkUnit
from jinavdr.execution.shards import Shard, merge, parse_shard, select_shard, split_units, unit_costs
from jinavdr.results.store import read_result_file
from tests.run_fakes import SEARCHER, make_dataset

REPO = Path(__file__).resolve().parents[1]
cli = CliRunner(env={"COLUMNS": "400"})


def unit(key: str, pages: int | None, size: tuple[int, int] | None = None) -> WorkUnit:
    """A unit with ``pages`` expected pages of mean ``size`` (width, height) when given."""
    dataset, subset = key.split(":")
    spec = None if size is None else SimpleNamespace(images=SimpleNamespace(avg_w=size[0], avg_h=size[1]))
    return WorkUnit(dataset=dataset, subset=subset, task=None, subset_spec=spec, expected_pages=pages)


def keys(units: list[WorkUnit]) -> list[str]:
    return [u.key for u in units]


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def test_parse_shard_accepts_i_over_n_and_explains_bad_input():
    assert parse_shard("3/8") == Shard(3, 8)
    assert parse_shard(" 0 / 1 ") == Shard(0, 1)
    assert str(parse_shard((2, 4))) == "2/4"
    with pytest.raises(JinaVDRError) as bad:
        parse_shard("3of8")
    assert str(bad.value) == "--shard '3of8' is not of the form i/n (for example 0/8, with i from 0 to n-1)"
    with pytest.raises(JinaVDRError) as high:
        parse_shard("8/8")
    assert str(high.value) == "--shard 8/8: the shard number must be between 0 and 7 (0-based, as SLURM's " \
                              "--array=0-7 numbers them)"
    with pytest.raises(JinaVDRError, match="at least 1"):
        parse_shard("0/0")


# --------------------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------------------


def test_split_is_longest_processing_time_with_hand_computed_assignment():
    units = [unit("a:x", 5), unit("b:x", 4), unit("c:x", 3), unit("d:x", 3), unit("e:x", 3)]
    # a(5)->0; b(4)->1; c(3)->1 (4<5); d(3)->0 (5<7); e(3)->1 (7<8): loads 8 and 10
    assert [keys(s) for s in split_units(units, 2)] == [["a:x", "d:x"], ["b:x", "c:x", "e:x"]]
    # each shard keeps catalogue order, whatever order LPT assigned in
    assert [keys(s) for s in split_units(units, 3)] == [["a:x"], ["b:x", "e:x"], ["c:x", "d:x"]]


def test_unknown_page_counts_weigh_the_mean_of_known_ones():
    units = [unit("a:x", 10), unit("b:x", None), unit("c:x", 2)]
    assert unit_costs(units) == [10.0, 6.0, 2.0]  # no image statistics: page counts, the unknown one the mean
    # costs 10, 6, 2: a->0, b->1, c->1
    assert [keys(s) for s in split_units(units, 2)] == [["a:x"], ["b:x", "c:x"]]
    # nothing known: every unit weighs 1, so the split is round robin in catalogue order
    flat = [unit(f"t{i}:x", None) for i in range(5)]
    assert [keys(s) for s in split_units(flat, 2)] == [["t0:x", "t2:x", "t4:x"], ["t1:x", "t3:x"]]


def test_units_are_weighed_by_pixels_when_the_task_files_know_page_sizes():
    units = [unit("big:x", 100, (2000, 2000)), unit("many:x", 300, (500, 400)), unit("few:x", 50, (1000, 1000)),
             unit("nosize:x", 200)]
    # 100 x 4e6 = 4e8; 300 x 2e5 = 6e7; 50 x 1e6 = 5e7; no size: the mean area (4e6 + 2e5 + 1e6) / 3 = 1.73e6
    assert unit_costs(units) == pytest.approx([4e8, 6e7, 5e7, 200 * 5.2e6 / 3])
    # LPT on 4e8 (big), 3.47e8 (nosize), 6e7 (many), 5e7 (few): big->0, nosize->1, many->1 (3.47e8 < 4e8),
    # few->0 (4e8 < 4.07e8). By page counts alone "many" (300) would have been the heaviest unit.
    assert [keys(s) for s in split_units(units, 2)] == [["big:x", "few:x"], ["many:x", "nosize:x"]]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100])
def test_catalogue_split_covers_every_unit_once_deterministically_and_balanced(n: int):
    units = api.work_units("jinavdr")
    assert len(units) == 96
    shards = split_units(units, n)
    assert len(shards) == n
    flat = [u.key for s in shards for u in s]
    assert sorted(flat) == sorted(u.key for u in units) and len(set(flat)) == len(units)
    assert [keys(s) for s in split_units(list(units), n)] == [keys(s) for s in shards]  # deterministic
    position = {u.key: i for i, u in enumerate(units)}
    for s in shards:  # catalogue order inside a shard
        assert [position[u.key] for u in s] == sorted(position[u.key] for u in s)
    cost = dict(zip((u.key for u in units), unit_costs(units), strict=True))
    loads = [sum(cost[u.key] for u in s) for s in shards]
    # greedy LPT: the fullest shard exceeds the emptiest by at most one unit's cost
    assert max(loads) - min(loads) <= max(cost.values())
    assert [keys(select_shard(units, f"{i}/{n}")) for i in range(n)] == [keys(s) for s in shards]


def test_eight_shards_of_the_benchmark_get_an_eighth_of_the_image_tokens_each():
    units = api.work_units("jinavdr")
    # vision tokens at native resolution (28 x 28 pixels per token): about 105 million in all
    tokens = {u.key: u.expected_pages * u.subset_spec.images.avg_w * u.subset_spec.images.avg_h / 784 for u in units}
    total = sum(tokens.values())
    assert 104e6 < total < 106e6
    shares = [sum(tokens[u.key] for u in s) / total for s in split_units(units, 8)]
    assert max(shares) < 0.126 and min(shares) > 0.124
    assert sum(len(s) for s in split_units(units, 8)) == 96


def test_plan_and_run_use_only_the_shards_units(tmp_path: Path):
    plan0 = api.plan("bm25", "sample", results_dir=tmp_path, shard="0/3")
    plan1 = api.plan("bm25", "sample", results_dir=tmp_path, shard="1/3")
    plan2 = api.plan("bm25", "sample", results_dir=tmp_path, shard="2/3")
    shards = split_units(api.work_units("sample"), 3)
    assert [[u.unit.key for u in p.units] for p in (plan0, plan1, plan2)] == [keys(s) for s in shards]


def test_cli_rejects_a_bad_shard_before_any_work(tmp_path: Path):
    result = cli.invoke(app, ["run", "--model", "bm25", "--tasks", "sample", "--results-dir", str(tmp_path),
                              "--shard", "3/3", "--device", "cpu"])
    assert result.exit_code == 2
    assert "--shard 3/3: the shard number must be between 0 and 2" in result.output
    assert not list(tmp_path.rglob("*.json"))


# --------------------------------------------------------------------------------------------------
# Running shards, merging them
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("shard-data")
    # four units of equal (unknown) size: shard 0/2 = multi:de, multi:fr; 1/2 = multi:en, single:default
    return [str(make_dataset(root, "multi", ["en", "fr", "de"], seed=1)), str(make_dataset(root, "single", seed=5))]


@pytest.fixture(scope="module")
def full(tmp_path_factory, data) -> Path:
    out = tmp_path_factory.mktemp("full")
    assert api.run(SEARCHER, data, results_dir=out, device="cpu").ok
    return out


def run_shard(results: Path, data: list[str], shard: str, **kw):
    report = api.run(SEARCHER, data, results_dir=results, device="cpu", shard=shard, **kw)
    assert report.ok
    return report


def files(root: Path) -> dict[str, dict]:
    """dataset -> {subset: (metrics, per-query)} of every result file under root."""
    out = {}
    for path in sorted(root.glob("*/*.json")):
        rf = read_result_file(path)
        out[rf.dataset] = {name: (s.metrics, s.per_query) for name, s in rf.subsets.items()}
    return out


def test_shards_split_a_dataset_and_merge_back_to_the_full_run(tmp_path: Path, data, full):
    a = run_shard(tmp_path / "s0", data, "0/2")
    b = run_shard(tmp_path / "s1", data, "1/2")
    assert keys(a.completed) == ["multi:de", "multi:fr"] and keys(b.completed) == ["multi:en", "single:default"]
    report = merge([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged", expected=api.work_units(data))
    assert report.missing == [] and report.subsets == 4 and report.inputs == 3 and report.duplicates == 0
    assert files(tmp_path / "merged") == files(full)
    [multi] = (tmp_path / "merged").glob("*/multi.json")
    assert list(read_result_file(multi).subsets) == ["de", "en", "fr"]
    again = merge([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged")  # idempotent: equal scores kept once
    assert again.duplicates == 4 and files(tmp_path / "merged") == files(full)


def test_merge_of_partial_shards_lists_the_missing_subsets(tmp_path: Path, data):
    run_shard(tmp_path / "s0", data, "0/2")
    slug = next((tmp_path / "s0").iterdir()).name
    report = merge([tmp_path / "s0"], tmp_path / "out", expected=api.work_units(data))
    assert report.missing == [f"{slug}/multi:en", f"{slug}/single:default"]
    result = cli.invoke(app, ["merge", str(tmp_path / "s0"), "-o", str(tmp_path / "out2"), "--tasks", data[0],
                              "--tasks", data[1], "--require-complete"])
    assert result.exit_code == 1, result.output
    assert "2 subset(s) missing" in result.output and f"{slug}/single:default" in result.output
    ok = cli.invoke(app, ["merge", str(tmp_path / "s0"), "-o", str(tmp_path / "out3"), "--tasks", data[0],
                          "--languages", "de,fr"])
    assert ok.exit_code == 0 and "complete: no selected subset is missing" in ok.output


def test_merge_without_a_selection_checks_catalogue_tasks(tmp_path: Path):
    report = api.run("bm25", "shop-catalogues", results_dir=tmp_path / "s", device="cpu", languages="de,en")
    assert report.ok
    merged = merge([tmp_path / "s"], tmp_path / "out")
    assert merged.missing == [f"bm25/shop-catalogues:{lang}" for lang in ("ar", "jp", "ru", "zh")]


def test_merge_refuses_mixed_settings_and_writes_nothing(tmp_path: Path, data):
    run_shard(tmp_path / "s0", data, "0/2")
    run_shard(tmp_path / "s1", data, "1/2", k=10)
    with pytest.raises(ResultsError) as exc:
        merge([tmp_path / "s0", tmp_path / "s1"], tmp_path / "out")
    message = str(exc.value)
    assert message.startswith(f"cannot merge {next((tmp_path / 's1').glob('*/multi.json'))} with "
                              f"{next((tmp_path / 's0').glob('*/multi.json'))}: ")
    assert "run_options.k: 100 in the file, 10 now" in message
    assert not (tmp_path / "out").exists()
    result = cli.invoke(app, ["merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Refusing to mix them in one file" in result.output


def test_merge_refuses_one_subset_with_two_different_scores(tmp_path: Path, data):
    run_shard(tmp_path / "s0", data, "0/2")
    copy = tmp_path / "copy"
    [src] = (tmp_path / "s0").glob("*/multi.json")
    raw = json.loads(src.read_text())
    raw["subsets"]["de"]["metrics"]["ndcg_at_5"] = 0.123
    raw["subsets"]["de"]["per_query"] = None  # else the file itself is refused (mean != per-query values)
    (copy / src.parent.name).mkdir(parents=True)
    (copy / src.parent.name / "multi.json").write_text(json.dumps(raw))
    with pytest.raises(ResultsError, match=r"subset multi:de of .* is in .* and in .* with different scores"):
        merge([tmp_path / "s0", copy], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _run_shard_process(results: str, data: list[str], shard: str) -> None:
    assert api.run(SEARCHER, data, results_dir=results, device="cpu", shard=shard).ok


def test_concurrent_shards_into_one_folder_share_a_dataset_file(tmp_path: Path, data, full):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_run_shard_process, args=(str(tmp_path), data, f"{i}/2")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert files(tmp_path) == files(full)  # multi.json got subsets from both processes


def _shard_subprocess(results: Path, data: list[str], shard: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = ("import jinavdr.api as api, sys\n"
            f"r = api.run({SEARCHER!r}, {data!r}, results_dir={str(results)!r}, device='cpu', shard={shard!r}, allow_failures=True)\n"
            "print('skipped', [u.key for u in r.skipped], 'completed', [u.key for u in r.completed])\n"
            "sys.exit(r.exit_code)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_a_killed_shard_resumes_its_own_units_and_the_merge_completes(tmp_path: Path, data, full):
    died = _shard_subprocess(tmp_path / "s0", data, "0/2", {"JINAVDR_FAKE_DIE_AFTER": "1"})
    assert died.returncode == 137, died.stderr
    partial = merge([tmp_path / "s0"], tmp_path / "out", expected=api.work_units(data))
    assert len(partial.missing) == 3  # multi:de is finished; fr (shard 0), en and single (shard 1) are not
    resumed = _shard_subprocess(tmp_path / "s0", data, "0/2", {})
    assert resumed.returncode == 0, resumed.stderr
    assert "skipped ['multi:de'] completed ['multi:fr']" in resumed.stdout
    other = _shard_subprocess(tmp_path / "s1", data, "1/2", {})
    assert other.returncode == 0, other.stderr
    final = merge([tmp_path / "s0", tmp_path / "s1"], tmp_path / "out", expected=api.work_units(data))
    assert final.missing == [] and files(tmp_path / "out") == files(full)
