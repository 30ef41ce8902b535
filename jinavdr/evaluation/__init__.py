"""The evaluation layer: from a ranking and judgements to numbers.

Metrics computed as pytrec_eval/trec_eval compute them (:mod:`~jinavdr.evaluation.metrics`), the
evaluation protocols (``beir`` and jina-vdr's ``paper``) that decide depth and post-processing
(:mod:`~jinavdr.evaluation.protocols`), means with their coverage (:mod:`~jinavdr.evaluation.aggregate`)
and the paired significance tests used by the leaderboard and the gate (:mod:`~jinavdr.evaluation.stats`).
"""
