"""Constants the Python SDK's tests share. A module of its own, not conftest: when
pytest runs tests/e2e and these tests in one session, `conftest` names the e2e one."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]  # sdk/python/tests -> repo root

# Remote workers: a crashed worker's job is claimed again within ~1 s.
PYSDK_WORKER_FLAGS = ("--lease-ttl-ms", "800", "--remote-poll-ms", "100", "--retry-base-ms", "100")
