"""Fixtures for the Python SDK's tests (unit tests against a fake server, and
integration tests against build/streamer). Fixture names carry a `pysdk_` prefix so
they never shadow tests/e2e/conftest.py's (`server`, `start_server`)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
# Use the source tree unless the package was installed (pip install -e sdk/python).
try:
    import streamer_client  # noqa: F401
except ImportError:
    sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

from pysdk_fake import FakeStreamer  # noqa: E402


@pytest.fixture
async def pysdk_fake():
    """A running fake Streamer server; stopped after the test."""
    fake = FakeStreamer()
    await fake.start()
    yield fake
    await fake.shutdown()
