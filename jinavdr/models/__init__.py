"""The models layer: the contract every model meets and the adapters that meet it.

The data types that cross layers (:class:`~jinavdr.models.embeddings.Embeddings`, a ranking
:class:`~jinavdr.models.ranking.Run`), the ``Encoder``/``Searcher`` protocols
(:mod:`~jinavdr.models.base`), the registry of named models with their declared defaults
(:mod:`~jinavdr.models.registry`), and one module per adapter family under
:mod:`jinavdr.models.adapters`. Models know nothing of caching, scoring or result files.
"""
