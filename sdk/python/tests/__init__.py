"""Tests of the Python SDK. A package, so that this conftest is imported as
`tests.conftest` and never replaces tests/e2e's top-level `conftest` module."""
