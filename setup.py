"""Package discovery: every subpackage of jinavdr is found, never listed by hand.

The task files live in the top-level ``tasks/`` folder and ship inside the wheel as the data package
``jinavdr._tasks`` (mapped in pyproject.toml's ``[tool.setuptools.package-dir]``); ``find_packages``
cannot see a mapped folder, so that one package is added here. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["jinavdr", "jinavdr.*"]), "jinavdr._tasks"])
