"""The catalogue layer: what can be benchmarked and how its data is read.

Task specs (validated TOML files in ``tasks/``), collections and selection by name, alias, language,
domain and format (:mod:`~jinavdr.catalogue.tasks`); the in-memory data types of one subset
(:mod:`~jinavdr.catalogue.dataset`); and the loaders that read a subset from the Hub at a pinned
revision or from a local folder, including the question-answer layout of the paper protocol
(:mod:`~jinavdr.catalogue.loaders`). It imports nothing of jinavdr but :mod:`jinavdr.errors`.
"""
