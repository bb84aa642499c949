"""Shared fixtures for end-to-end tests: they start the real `build/streamer` binary
on a free loopback port with a fresh data dir, and talk to it with real clients
(Python `websockets`, urllib). Every server started here is stopped afterwards.

    def test_x(server):                      # one server per test, default flags
        tok = server.token("alice", "t1")
        async with websockets.connect(server.ws_url(tok)) as ws: ...

    def test_y(start_server):                # custom flags / restarts
        s = start_server("--max-concurrent-requests", "2")
        s.kill(); s2 = start_server(data_dir=s.data_dir)

Servers run with `--enable-delay` (the diagnostic handler most tests use) unless
started with `delay=False`.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path

import pytest
from websockets.asyncio.connection import Connection as WsConnection

import protocol_schema

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("STREAMER_BIN", ROOT / "build" / "streamer"))
SECRET = "e2e-test-secret-please-change"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mint_token(sub="user-1", tenant="tenant-1", permissions=("read", "write"), ttl=3600,
               secret=SECRET, extra_args=()) -> str:
    """Mints an HS256 token with the binary's own `token` command."""
    args = [str(BINARY), "token", "--jwt-secret", secret, "--sub", sub, "--tenant", tenant,
            "--permissions", ",".join(permissions), "--ttl", str(ttl), *extra_args]
    return subprocess.check_output(args, text=True).strip()


class Server:
    def __init__(self, args, data_dir: Path, port: int, env=None, scheme="ws"):
        self.port = port
        self.data_dir = data_dir
        self.scheme = scheme
        self.log_path = data_dir / f"server-{port}-{time.time_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(BINARY), "serve", *args], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env)
        self._wait_ready()

    # -- URLs and tokens -------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"{'https' if self.scheme == 'wss' else 'http'}://127.0.0.1:{self.port}"

    def ws_url(self, token: str | None = None, stage: str = "production") -> str:
        url = f"{self.scheme}://127.0.0.1:{self.port}/{stage}"
        return url + (f"?Authorization={token}" if token is not None else "")

    def token(self, sub="user-1", tenant="tenant-1", permissions=("read", "write"), ttl=3600, **kw):
        return mint_token(sub, tenant, permissions, ttl, **kw)

    def http_get(self, path: str, headers=None):
        """Returns (status, headers, body bytes); never raises on HTTP errors."""
        req = urllib.request.Request(self.http_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    # -- lifecycle -------------------------------------------------------------
    def _wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early ({self.proc.returncode}):\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                if self.scheme == "ws":
                    status, _, _ = self.http_get("/readyz")
                    if status == 200:
                        return
                else:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready:\n" + self.log_text())

    def terminate(self, timeout=20.0) -> int:
        """SIGTERM (graceful drain); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self._log.close()
        return rc

    def kill(self):
        """SIGKILL: a crash, nothing drained."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


def pytest_terminal_summary(terminalreporter):
    if protocol_schema.checked_total:
        terminalreporter.write_line(f"{protocol_schema.checked_total} server messages validated against docs/asyncapi.yaml")


@pytest.fixture(autouse=True)
def validate_every_message(monkeypatch, request):
    """Every message any test receives on a `websockets` connection is validated
    against docs/asyncapi.yaml (protocol_schema.ProtocolChecker; helpers_e2e.RawWs
    checks its own reads). A message that does not validate raises SchemaViolation
    from recv(), and fails the test afterwards even if the test caught it."""
    protocol_schema.violations.clear()
    checkers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    original_recv, original_send = WsConnection.recv, WsConnection.send

    def checker(conn) -> protocol_schema.ProtocolChecker:
        if conn not in checkers:
            checkers[conn] = protocol_schema.ProtocolChecker()
        return checkers[conn]

    async def recv(self, *args, **kwargs):
        frame = await original_recv(self, *args, **kwargs)
        decode_given = bool(args) or "decode" in kwargs
        checker(self).received(frame.decode() if decode_given and isinstance(frame, bytes) else frame)
        return frame

    async def send(self, message, *args, **kwargs):
        checker(self).sent(message)
        return await original_send(self, message, *args, **kwargs)

    monkeypatch.setattr(WsConnection, "recv", recv)
    monkeypatch.setattr(WsConnection, "send", send)
    yield
    if protocol_schema.violations and not request.node.stash.get(CALL_FAILED, False):
        found = list(protocol_schema.violations)
        protocol_schema.violations.clear()
        pytest.fail(f"{len(found)} server message(s) do not match docs/asyncapi.yaml:\n" + "\n".join(found[:5]),
                    pytrace=False)


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def sanitizer_report(log_path: Path) -> str | None:
    """The first sanitizer report (ASan, UBSan, LSan) in a server log, from its first
    line on (at most 60 lines), or None; `make test-asan` runs the suite against a
    sanitizer build whose reports go to the server's stderr, i.e. this log."""
    lines = log_path.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKERS):
            return f"{log_path}:\n" + "\n".join(lines[i:i + 60])
    return None


CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(*flags, data_dir=None, port=None, env=None, scheme='ws', delay=True)."""
    started: list[Server] = []

    def _start(*flags, data_dir=None, port=None, env=None, scheme="ws", secret=SECRET, delay=True):
        d = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(dir=tmp_path))
        d.mkdir(parents=True, exist_ok=True)
        p = port or free_port()
        args = ["--listen", f"127.0.0.1:{p}", "--data-dir", str(d), "--jwt-secret", secret,
                "--public-url", f"{'https' if scheme == 'wss' else 'http'}://127.0.0.1:{p}",
                *(["--enable-delay"] if delay else []), *flags]
        s = Server(args, d, p, env=env, scheme=scheme)
        started.append(s)
        return s

    yield _start
    # A server that crashed (tests send SIGTERM, SIGKILL, SIGSTOP, never these) fails the
    # test even when its clients only saw a reset connection.
    crashed = [f"{s.log_path}: server died of signal {-s.proc.returncode}:\n" + s.log_text()[-3000:]
               for s in started if s.proc.poll() is not None and -s.proc.returncode in CRASH_SIGNALS]
    for s in started:
        s.stop()
    if crashed:
        pytest.fail("\n---\n".join(crashed), pytrace=False)
    reports = [r for r in (sanitizer_report(s.log_path) for s in started) if r]
    if reports:
        pytest.fail("sanitizer report in the server log:\n" + "\n---\n".join(reports), pytrace=False)


@pytest.fixture
def server(start_server):
    return start_server()


async def recv_json(ws, timeout=10.0):
    """Next message as a dict (asyncio websockets)."""
    import asyncio
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, predicate, timeout=30.0):
    """Collects messages until predicate(msg) is true; returns (all, last)."""
    import asyncio
    seen = []
    deadline = asyncio.get_event_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_event_loop().time()
        msg = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
        seen.append(msg)
        if predicate(msg):
            return seen, msg
