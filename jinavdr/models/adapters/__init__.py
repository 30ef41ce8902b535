"""Adapters: one module per model family, each turning queries and pages into embeddings or rankings.

Adapters are loaded by the registry from their factory path (``jinavdr.models.adapters.<module>:<Class>``)
and import their heavy dependencies (transformers, sentence-transformers, mteb) only when constructed.
"""
