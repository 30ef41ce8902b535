"""The execution layer: running many subsets reliably.

The runner that plans work units, resumes finished ones and records each subset's result
(:mod:`~jinavdr.execution.runner`), the torch.distributed backend in which every rank encodes a share
(:mod:`~jinavdr.execution.distributed`), and shards with their merge (:mod:`~jinavdr.execution.shards`).
"""
