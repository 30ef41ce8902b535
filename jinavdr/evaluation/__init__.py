"""The evaluation layer: from a ranking and judgements to numbers.

Metrics computed as pytrec_eval/trec_eval compute them (:mod:`~jinavdr.evaluation.metrics`), the
evaluation protocols (``beir`` and jina-vdr's ``paper``) that decide depth and post-processing
(:mod:`~jinavdr.evaluation.protocols`), the one averaging module used by the leaderboard and the gate alike: means with their coverage,
per-query weighting and the paired tests (:mod:`~jinavdr.evaluation.aggregate`), over the statistical
primitives (:mod:`~jinavdr.evaluation.stats`).
"""
