"""The results layer: what a finished subset leaves behind and how it is stored.

The result-file schema (:mod:`~jinavdr.results.schema`), the run manifest with the environment and
settings that produced a number (:mod:`~jinavdr.results.manifest`), the locked, atomic store that
writes, reads and resumes result files (:mod:`~jinavdr.results.store`), and conversion to and from
MTEB's result files (:mod:`~jinavdr.results.mteb_io`). It sits on the catalogue layer only.
"""
