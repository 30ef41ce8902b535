"""Package discovery: every subpackage of jinavdr is found, never listed by hand.

Three data packages are added here because ``find_packages`` cannot see them (pyproject.toml declares
their files): the task files (top-level ``tasks/``, shipped as ``jinavdr._tasks``), the published
reference scores (``leaderboard/paper-scores.csv``, shipped as ``jinavdr._leaderboard``) and the
bundled sample collection (``jinavdr/assets/sample``, a folder of parquet files, not a module).
"""

from setuptools import find_packages, setup

DATA_PACKAGES = ["jinavdr._tasks", "jinavdr._leaderboard", "jinavdr.assets.sample"]

setup(packages=[*find_packages(include=["jinavdr", "jinavdr.*"]), *DATA_PACKAGES])
