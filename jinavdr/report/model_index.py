"""Result files as the Hub's model-card evaluation metadata (``model-index``).

``jinavdr export --format model-index`` writes one model card per model: YAML front matter with a
``model-index`` built by huggingface_hub (``EvalResult`` / ``ModelCardData``), and a short body with
the scores. Each finished subset is one result: task ``visual-document-retrieval``, the dataset repo
and revision the result file records, the subset as the dataset config (the data id, ``jp``), split
``test``, and every exported metric x100 (two decimals; the metric name says ``×100``). The card is
parsed back with huggingface_hub (``ModelCard``, ``model_index_to_eval_results``) before it is
written, and refused if anything differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinavdr import __version__
from jinavdr.catalogue.tasks import MAIN_METRIC
from jinavdr.errors import ArgumentError, JinaVDRError
from jinavdr.report.format import in_points, metric_label, shown
from jinavdr.report.frames import language_label
from jinavdr.results.schema import ResultFile

__all__ = ["TASK_TYPE", "ModelCardExport", "eval_results", "model_card", "write_model_cards"]

TASK_TYPE = "visual-document-retrieval"
TASK_NAME = "Visual document retrieval"
SPLIT = "test"


@dataclass(frozen=True)
class ModelCardExport:
    model_name: str
    slug: str
    text: str  # the whole README.md
    n_results: int


def _metric_name(metric: str) -> str:
    return f"{metric_label(metric)} (×100)"


def eval_results(files: Iterable[ResultFile], metrics: Sequence[str] = (MAIN_METRIC,)) -> list:
    """``huggingface_hub.EvalResult`` per (dataset, subset, metric) of the files, in a stable order."""
    from huggingface_hub import EvalResult

    out = []
    for rf in sorted(files, key=lambda f: f.dataset):
        m = rf.manifest
        for name in sorted(rf.subsets):
            sub = rf.subsets[name]
            language = language_label(name) if name != "default" else ""
            for metric in metrics:
                if metric not in sub.metrics:
                    raise JinaVDRError(
                        f"{rf.dataset}/{name} of {rf.model_slug} has no {metric!r} metric to export; "
                        f"choose among {', '.join(sorted(sub.metrics))}."
                    )
                out.append(
                    EvalResult(
                        task_type=TASK_TYPE,
                        task_name=TASK_NAME,
                        dataset_type=m.dataset_repo or rf.dataset,
                        dataset_name=f"{rf.dataset} ({language})" if language else rf.dataset,
                        dataset_config=name,
                        dataset_split=SPLIT,
                        dataset_revision=m.dataset_revision,
                        metric_type=metric,
                        metric_name=_metric_name(metric),
                        metric_value=float(shown(float(sub.metrics[metric]))),
                        verified=False,
                    )
                )
    return out


def _body(model_name: str, results: Sequence, protocols: Sequence[str]) -> str:
    from jinavdr.report.render.markdown import escape, pipe_table

    rows = [
        [escape(r.dataset_name), escape(r.dataset_config or ""), escape(r.metric_name or r.metric_type),
         in_points(r.metric_value)]
        for r in results
    ]
    lines = [
        f"# {escape(model_name)}",
        "",
        f"Scores measured with jinavdr {__version__} ({', '.join(protocols)} protocol; visual document "
        "retrieval, text queries ranked against page images); the `model-index` above holds the same numbers "
        "for the Hub.",
        "",
        *pipe_table(("Dataset", "Subset", "Metric", "Score"), rows, (False, False, False, True)),
        "",
    ]
    return "\n".join(lines)


def _check(text: str, expected: Sequence, model_name: str) -> None:
    """Parse the card back with huggingface_hub; refuse it unless it holds exactly ``expected``."""
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    card = ModelCard(text)
    name, parsed = model_index_to_eval_results(card.data.to_dict()["model-index"])
    key = lambda r: (r.dataset_type, r.dataset_config, r.metric_type)  # noqa: E731
    if name != model_name or sorted(map(key, parsed)) != sorted(map(key, expected)) or any(
        a.metric_value != b.metric_value for a, b in zip(sorted(parsed, key=key), sorted(expected, key=key),
                                                         strict=True)
    ):
        raise JinaVDRError(f"the model card of {model_name!r} does not read back as written; please report this.")


def model_card(files: Sequence[ResultFile], *, model_name: str | None = None,
               metrics: Sequence[str] = (MAIN_METRIC,)) -> ModelCardExport:
    """The model card (README.md text) of one model's result files, validated by huggingface_hub."""
    from huggingface_hub import ModelCard, ModelCardData

    slugs = sorted({f.model_slug for f in files})
    if len(slugs) != 1:
        raise JinaVDRError(f"a model card holds one model; got {', '.join(slugs) or 'none'}.")
    name = model_name or files[0].manifest.model_id or files[0].model
    results = eval_results(files, metrics)
    if not results:
        raise JinaVDRError(f"no finished subset to export for {slugs[0]}.")
    data = ModelCardData(model_name=name, eval_results=results, tags=["jinavdr", TASK_TYPE])
    protocols = sorted({f.protocol for f in files})
    text = str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{_body(name, results, protocols)}"))
    _check(text, results, name)
    return ModelCardExport(model_name=name, slug=slugs[0], text=text, n_results=len(results))


def write_model_cards(
    files: Sequence[ResultFile], out: str | Path, *, model_name: str | None = None,
    metrics: Sequence[str] = (MAIN_METRIC,),
) -> list[Path]:
    """Write ``<out>/<model-slug>/README.md`` per model; returns the paths written."""
    from jinavdr.results.store import write_atomic

    by_slug: dict[str, list[ResultFile]] = {}
    for f in files:
        by_slug.setdefault(f.model_slug, []).append(f)
    if model_name is not None and len(by_slug) > 1:
        raise ArgumentError(
            "model_name",
            f"names one model, but the results hold {len(by_slug)}: {', '.join(sorted(by_slug))}. "
            "Export one model folder at a time.",
        )
    written = []
    for slug in sorted(by_slug):
        card = model_card(by_slug[slug], model_name=model_name, metrics=metrics)
        path = Path(out) / slug / "README.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, card.text)
        path.chmod(0o644)
        written.append(path)
    return written
