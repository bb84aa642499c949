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


def pytest_configure(config):
    config.addinivalue_line("markers", "pysdk_server_args(*flags): extra `streamer serve` flags for pysdk_server")


@pytest.fixture
async def pysdk_fake():
    """A running fake Streamer server; stopped after the test."""
    fake = FakeStreamer()
    await fake.start()
    yield fake
    await fake.shutdown()


# ----------------------------------------------------------- the real binary
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

REPO_ROOT = HERE.parents[2]  # sdk/python/tests -> repo root
PYSDK_SECRET = "pysdk-integration-secret"


def pysdk_binary() -> Path:
    """build/streamer of this clone, or $STREAMER_BIN (relative to the repo root)."""
    raw = os.environ.get("STREAMER_BIN")
    path = Path(raw) if raw else Path("build") / "streamer"
    return path if path.is_absolute() else REPO_ROOT / path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PysdkServer:
    """One `streamer serve` process on a fixed port and data dir; kill() and
    start() again to simulate a crash and restart."""

    def __init__(self, binary: Path, data_dir: Path, port: int, extra_args: tuple[str, ...] = ()) -> None:
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "pysdk-server.log"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/production"

    def token(self, sub: str = "pysdk-user", tenant: str = "pysdk-tenant",
              permissions: str = "read,write", ttl: int = 3600, actions: str | None = None) -> str:
        extra = ["--actions", actions] if actions is not None else []
        return subprocess.check_output(
            [str(self.binary), "token", "--jwt-secret", PYSDK_SECRET, "--sub", sub, "--tenant", tenant,
             "--permissions", permissions, "--ttl", str(ttl), *extra], text=True, timeout=30).strip()

    def worker_token(self, actions: str, sub: str = "pysdk-worker", tenant: str = "pysdk-tenant") -> str:
        """A token for a remote worker serving ``actions`` (comma-separated) in ``tenant``."""
        return self.token(sub=sub, tenant=tenant, permissions="worker", actions=actions)

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
             "--jwt-secret", PYSDK_SECRET, "--public-url", f"http://127.0.0.1:{self.port}", "--enable-delay",
             *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamer exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise RuntimeError("streamer did not become ready:\n" + self.log())

    def kill(self) -> None:
        """SIGKILL: a crash, nothing drained."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""




@pytest.fixture
def pysdk_server(request):
    """A running real server (skips when the binary is not built). Tests marked
    ``@pytest.mark.pysdk_server_args(*flags)`` get extra ``serve`` flags."""
    binary = pysdk_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.skip(f"streamer binary not found at {binary} (build it, or set STREAMER_BIN)")
    marker = request.node.get_closest_marker("pysdk_server_args")
    data_dir = Path(tempfile.mkdtemp(prefix="pysdk-"))
    server = PysdkServer(binary, data_dir, _free_port(), tuple(marker.args) if marker else ())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
