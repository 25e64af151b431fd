"""Helpers of the test suite: peers, the fake SCP and its scenarios, running echoscp,
TLS pieces, the network fault lab. No test functions live in this package.

Tests import them as ``support.<module>``: pytest puts tests/ on ``sys.path`` (tests/
has a conftest.py and no ``__init__.py``), from the repository root or under nox alike.
The modules of bench/ and scripts/ that the tests use come from ``support.tools``.
"""
