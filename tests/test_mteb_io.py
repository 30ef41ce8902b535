"""MTEB interoperability: export loads in mteb, import round-trips, numbers equal MTEB's evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jinavdr.errors import ResultsError
from jinavdr.results.mteb_io import TaskInfo, export_mteb, import_mteb, import_slug, task_result_dict
from jinavdr.results.schema import Manifest, PerQuery, ResultFile, SubsetResult
from jinavdr.results.store import ResultStore, read_result_file

mteb = pytest.importorskip("mteb")

TASKS = [
    TaskInfo("airbnb-synthetic-retrieval", "JinaVDRAirbnbSyntheticRetrieval", "jinaai/airbnb-synthetic-retrieval_beir",
             counts={"ar": (10, 20, 11), "jp": (12, 20, 12)}),
    TaskInfo("tabfquad", "JinaVDRTabFQuadRetrieval", "jinaai/tabfquad_beir", counts={"default": (5, 7, 5)}),
]


def make_result(dataset: str, subsets: dict[str, dict[str, float]], *, protocol: str = "beir",
                model_id: str = "org/my-model", revision: str | None = "c" * 40,
                slug: str = "my-model") -> ResultFile:
    manifest = Manifest(
        model_id=model_id, model_revision=revision, adapter="fake", settings={"adapter": "fake"},
        dataset_repo=f"jinaai/{dataset}_beir", dataset_revision="d" * 40, protocol=protocol,
        created_at="2025-01-01T00:00:00+00:00",
    )
    subs = {
        name: SubsetResult(
            subset=name, metrics=m, per_query=PerQuery(query_ids=["q"], values=[m["ndcg_at_5"]]),
            n_queries=1, n_pages=1, n_qrels=1, finished_at="2025-02-03T04:05:06+00:00",
        )
        for name, m in subsets.items()
    }
    return ResultFile(model="my-model", model_slug=slug, dataset=dataset, protocol=protocol,
                      subsets=subs, manifest=manifest)


AIRBNB = {
    "ar": {"ndcg_at_5": 0.25, "ndcg_at_10": 0.3, "recall_at_5": 0.5, "mrr_at_10": 0.2},
    "jp": {"ndcg_at_5": 0.75, "ndcg_at_10": 0.8, "recall_at_5": 1.0, "mrr_at_10": 0.7},
}


def test_export_layout_and_values(tmp_path: Path):
    res = make_result("airbnb-synthetic-retrieval", AIRBNB)
    [path] = export_mteb([res], tmp_path, tasks=TASKS)
    assert path == tmp_path / "org__my-model" / ("c" * 40) / "JinaVDRAirbnbSyntheticRetrieval.json"
    data = json.loads(path.read_text())
    assert data["task_name"] == "JinaVDRAirbnbSyntheticRetrieval"
    assert data["dataset_revision"] == "d" * 40
    entries = {e["hf_subset"]: e for e in data["scores"]["test"]}
    assert entries["jp"]["main_score"] == 0.75 and entries["jp"]["ndcg_at_10"] == 0.8
    assert entries["jp"]["languages"] == ["jpn-Jpan"]
    assert entries["ar"]["languages"] == ["ara-Arab"]
    meta = json.loads((path.parent / "model_meta.json").read_text())
    assert (meta["name"], meta["revision"]) == ("org/my-model", "c" * 40)


def test_mteb_loads_the_export_with_its_own_loaders(tmp_path: Path):
    results = [
        make_result("airbnb-synthetic-retrieval", AIRBNB),
        make_result("tabfquad", {"default": {"ndcg_at_5": 0.5, "ndcg_at_10": 0.6}}),
    ]
    export_mteb(results, tmp_path / "results", tasks=TASKS)
    path = tmp_path / "results" / "org__my-model" / ("c" * 40) / "JinaVDRAirbnbSyntheticRetrieval.json"
    loaded = mteb.TaskResult.from_disk(path)
    assert loaded.task_name == "JinaVDRAirbnbSyntheticRetrieval"
    assert loaded.get_score() == pytest.approx(0.5)  # mean over subsets, like ours
    assert loaded.get_score() == pytest.approx(results[0].main_score())
    assert sorted(loaded.hf_subsets) == ["ar", "jp"]
    # the whole folder through mteb's result cache
    bench = mteb.ResultCache(cache_path=tmp_path).load_results(include_remote=False)
    [model_res] = bench.model_results
    assert model_res.model_name == "org/my-model" and model_res.model_revision == "c" * 40
    scores = {t.task_name: t.get_score() for t in model_res.task_results}
    assert scores == pytest.approx({"JinaVDRAirbnbSyntheticRetrieval": 0.5, "JinaVDRTabFQuadRetrieval": 0.5})


def test_export_refuses_paper_protocol_and_collisions(tmp_path: Path):
    paper = make_result("tabfquad", {"default": {"ndcg_at_5": 0.5}}, protocol="paper")
    with pytest.raises(ResultsError, match="protocol 'paper'.*--protocol beir"):
        export_mteb([paper], tmp_path, tasks=TASKS)
    a = make_result("tabfquad", {"default": {"ndcg_at_5": 0.5}}, slug="m__vector-single__1234abcd")
    b = make_result("tabfquad", {"default": {"ndcg_at_5": 0.6}}, slug="m")
    with pytest.raises(ResultsError, match="would both be written to .*--model-name"):
        export_mteb([a, b], tmp_path, tasks=TASKS)
    unknown = make_result("my-folder", {"default": {"ndcg_at_5": 0.5}})
    with pytest.raises(ResultsError, match="'my-folder'.*no MTEB task name"):
        export_mteb([unknown], tmp_path, tasks=TASKS)


def test_import_round_trip(tmp_path: Path):
    res = make_result("airbnb-synthetic-retrieval", AIRBNB)
    export_mteb([res], tmp_path / "mteb", tasks=TASKS)
    written, skipped = import_mteb([tmp_path / "mteb"], tmp_path / "results", tasks=TASKS)
    assert skipped == []
    slug = import_slug("org/my-model")
    assert slug == "mteb-org__my-model"
    assert written == [tmp_path / "results" / slug / "airbnb-synthetic-retrieval.json"]
    back = read_result_file(written[0])
    assert back.manifest.source == "mteb" and back.manifest.model_revision == "c" * 40
    assert back.manifest.dataset_revision == "d" * 40
    assert back.model == "org/my-model" and back.protocol == "beir"
    for name, sub in back.subsets.items():
        assert sub.metrics == AIRBNB[name]
        assert sub.per_query is None
        assert (sub.n_queries, sub.n_pages, sub.n_qrels) == TASKS[0].counts[name]
    assert back.main_score() == res.main_score()


def test_import_skips_unknown_tasks_and_rejects_non_mteb_files(tmp_path: Path):
    folder = tmp_path / "m" / "rev"
    folder.mkdir(parents=True)
    (folder / "STS12.json").write_text(json.dumps({
        "task_name": "STS12", "dataset_revision": "x", "mteb_version": "2.0.0", "evaluation_time": 1,
        "scores": {"test": [{"hf_subset": "default", "languages": ["eng-Latn"], "main_score": 0.5}]},
    }))
    written, skipped = import_mteb([tmp_path / "m"], tmp_path / "results", tasks=TASKS)
    assert written == [] and skipped == [f"{folder / 'STS12.json'}: task 'STS12' is not a catalogue task"]
    with pytest.raises(ResultsError, match="does not exist"):
        import_mteb([tmp_path / "missing"], tmp_path / "results", tasks=TASKS)


def test_imported_file_joins_the_store_and_refuses_other_revisions(tmp_path: Path):
    export_mteb([make_result("tabfquad", {"default": {"ndcg_at_5": 0.5}})], tmp_path / "a", tasks=TASKS)
    export_mteb([make_result("tabfquad", {"default": {"ndcg_at_5": 0.6}}, revision="e" * 40)],
                tmp_path / "b", tasks=TASKS)
    import_mteb([tmp_path / "a"], tmp_path / "results", tasks=TASKS)
    with pytest.raises(ResultsError, match="model_revision"):
        import_mteb([tmp_path / "b"], tmp_path / "results", tasks=TASKS)
    import_mteb([tmp_path / "b"], tmp_path / "results", tasks=TASKS, overwrite=True)
    res = ResultStore(tmp_path / "results").read(import_slug("org/my-model"), "tabfquad")
    assert res is not None and res.subsets["default"].metrics["ndcg_at_5"] == 0.6


def test_task_result_dict_ignores_non_metric_keys():
    res = make_result("tabfquad", {"default": {"ndcg_at_5": 0.5, "weird": 3.0}})
    body = task_result_dict(res, "JinaVDRTabFQuadRetrieval")
    entry = body["scores"]["test"][0]
    assert "weird" not in entry and entry["main_score"] == 0.5 and entry["ndcg_at_5"] == 0.5


# ---------------------------------------------------------------------------------------------------
# Our evaluation equals MTEB's evaluation of the same run
# ---------------------------------------------------------------------------------------------------


def _synthetic_run(seed: int = 0):
    from jinavdr.models.ranking import Run

    rng = np.random.default_rng(seed)
    n_q, n_d, k = 40, 60, 30
    doc_ids = [f"d{i}" for i in range(n_d)]
    query_ids = [f"q{i}" for i in range(n_q)]
    scores = rng.normal(size=(n_q, n_d)).astype(np.float32)
    scores[:, :5] = np.round(scores[:, :5], 1)  # some ties, broken by doc id as trec_eval does
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(scores, order, axis=1)
    run = Run(query_ids=query_ids, doc_ids=doc_ids, indices=order.astype(np.int64), scores=top)
    qrels = {}
    for qi, q in enumerate(query_ids):
        rel = rng.choice(n_d, size=1 + qi % 3, replace=False)
        qrels[q] = {doc_ids[int(d)]: int(1 + (j % 2)) for j, d in enumerate(rel)}
    return run, qrels


def test_stored_numbers_equal_mteb_evaluation_of_the_same_run(tmp_path: Path):
    metrics = pytest.importorskip("jinavdr.evaluation.metrics")
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores, make_score_dict

    from jinavdr.catalogue.dataset import Qrels

    run, qrels = _synthetic_run()
    k_values = [1, 3, 5, 10, 20]
    ours = metrics.evaluate(run, Qrels(qrels), k_values=k_values).metrics
    res = make_result("tabfquad", {"default": dict(ours)})
    [path] = export_mteb([res], tmp_path, tasks=TASKS)
    exported = mteb.TaskResult.from_disk(path).scores["test"][0]

    r = calculate_retrieval_scores(run.to_dict(), qrels, k_values)
    theirs = make_score_dict(ndcg=r.ndcg, _map=r.map, recall=r.recall, precision=r.precision, mrr=r.mrr,
                             naucs=r.naucs, naucs_mrr=r.naucs_mrr, hit_rate=r.hit_rate, task_scores={})
    shared = [k for k in theirs if k in exported and k not in ("main_score",)]
    assert {f"{m}_at_{k}" for m in ("ndcg", "map", "recall", "precision", "mrr") for k in (1, 5, 10)} <= set(shared)
    for key in shared:
        # MTEB rounds its means to 5 decimals; ours are exact (MRR it does not round).
        assert exported[key] == pytest.approx(theirs[key], abs=5e-6), key
    assert exported["main_score"] == pytest.approx(theirs["ndcg_at_5"], abs=5e-6)
