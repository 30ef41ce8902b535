"""Result files: one JSON file per (model spec, dataset), with a manifest of every setting.

Scores are stored as fractions in [0, 1] (pytrec_eval's scale); reports show them x100.
Schema (version 1)::

    ResultFile
      schema_version: 1
      model: str                 # the model spec as the user named it, e.g. "jina-v4"
      model_slug: str            # folder name under results/, unique per settings
      dataset: str               # task short name, e.g. "tabfquad"
      protocol: "beir" | "paper"
      main_metric: "ndcg_at_5"
      subsets: {name: SubsetResult}
      manifest: Manifest

Readers (leaderboard, compare, export) use only this module, never a model or a dataset.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL, MAIN_METRIC

SCHEMA_VERSION = 1


class CacheStats(BaseModel):
    queries_encoded: int = 0
    queries_cached: int = 0
    pages_encoded: int = 0
    pages_cached: int = 0


class Timings(BaseModel):
    """Seconds spent per stage of one subset."""

    query_encoding: float = 0.0
    page_encoding: float = 0.0
    scoring: float = 0.0
    evaluation: float = 0.0
    pages_per_second: float | None = None


class PerQuery(BaseModel):
    """Per-query main-metric values, compact: two aligned lists."""

    metric: str = MAIN_METRIC
    query_ids: list[str]
    values: list[float]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.query_ids, self.values, strict=True))


class SubsetResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subset: str  # "default" or a language code
    metrics: dict[str, float]  # e.g. {"ndcg_at_5": 0.81, "map_at_10": ..., "mrr_at_10": ...}
    #: None when per-query values are unknown (results imported from MTEB): no significance tests.
    per_query: PerQuery | None = None
    n_queries: int
    n_pages: int
    n_qrels: int
    dropped_queries: int = 0
    #: qrels rows that repeat a (query, page) pair with the same grade (counted once; see docs/tasks.md)
    duplicate_qrels: int = 0
    timings: Timings = Field(default_factory=Timings)
    cache: CacheStats = Field(default_factory=CacheStats)
    peak_memory_mb: float | None = None
    run_file: str | None = None  # relative path of a TREC run file, when written
    finished_at: str  # ISO 8601 UTC

    @property
    def main_score(self) -> float:
        return self.metrics[MAIN_METRIC]

    @model_serializer(mode="wrap")
    def _omit_zero_duplicates(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``duplicate_qrels`` out when 0, so files stay readable by versions without the field."""
        data = handler(self)
        if data.get("duplicate_qrels") == 0:
            data.pop("duplicate_qrels")
        return data


class Manifest(BaseModel):
    """How the numbers were produced. ``settings`` must be identical to add subsets to a file."""

    model_id: str  # Hub id or local path
    model_revision: str | None = None  # resolved commit when known
    adapter: str  # registry name, e.g. "jina-v4" or "python:pkg.mod:Class"
    settings: dict[str, Any] = Field(default_factory=dict)  # every adapter option that moves a score
    dataset_repo: str
    dataset_revision: str | None = None
    protocol: str
    versions: dict[str, str] = Field(default_factory=dict)  # jinavdr, git commit, torch, transformers, ...
    device: str = "cpu"
    gpu_name: str | None = None
    dtype: str | None = None
    batch_sizes: dict[str, int] = Field(default_factory=dict)  # recorded; scores do not depend on them
    #: evaluation options that can move a score and are not adapter settings (ranking depth k, strict).
    run_options: dict[str, Any] = Field(default_factory=dict)
    #: "jinavdr" for our own runs, "mteb" for files made by ``jinavdr import`` from MTEB results.
    source: str = "jinavdr"
    created_at: str  # ISO 8601 UTC
    hostname: str | None = None


class ResultFile(BaseModel):
    schema_version: int = SCHEMA_VERSION
    model: str
    model_slug: str
    dataset: str
    protocol: str = DEFAULT_PROTOCOL
    main_metric: str = MAIN_METRIC
    subsets: dict[str, SubsetResult] = Field(default_factory=dict)
    manifest: Manifest

    def main_score(self) -> float | None:
        """Unweighted mean of the main metric over finished subsets (None when empty)."""
        if not self.subsets:
            return None
        vals = [s.metrics[self.main_metric] for s in self.subsets.values()]
        return sum(vals) / len(vals)
