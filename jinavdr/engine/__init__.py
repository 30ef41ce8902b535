"""The engine layer: turning a subset into a ranking.

Encoding in batches through an adapter with the embedding cache (:mod:`~jinavdr.engine.encoding`,
:mod:`~jinavdr.engine.cache`), exact chunk-independent scoring with a streaming top-k
(:mod:`~jinavdr.engine.scoring`), and TREC run files (:mod:`~jinavdr.engine.trec`). It uses the
models, results and catalogue layers below it and knows nothing of metrics or reports.
"""
