"""The Redis job store (`--store redis://...`): jobs live in a Redis shared by every
process, not in the data dir. Each test starts its own throwaway `redis-server` on a
free loopback port (no persistence) and stops it afterwards."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from conftest import BINARY, SECRET, free_port
from helpers_e2e import (assert_queued, assert_success, call, connect, recv_for, request,
                         until_terminal)

USER = ("redis-user", "redis-tenant")
LEASE = ("--lease-ttl-ms", "1000")
ARTIFACT_SECRET = "e2e-shared-artifact-secret"  # required with a Redis store

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (scripts/setup.sh installs it)")


class RedisServer:
    def __init__(self, tmp_path, *flags):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path), *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.command("PING") == "+PONG":
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> str:
        """One command in RESP; the first line of the reply (enough for these tests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
            s.sendall(payload.encode())
            return s.recv(65536).decode(errors="replace").split("\r\n")[0]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def redis(tmp_path):
    r = RedisServer(tmp_path)
    yield r
    r.stop()


async def test_jobs_outlive_the_process_and_its_data_dir(start_server, redis):
    """A job queued through one server is finished by another with an empty data dir:
    queue, leases and results are in Redis."""
    a = start_server("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET, *LEASE)
    assert '"event":"job_store","kind":"redis"' in a.log_text()
    async with connect(a.ws_url(a.token(*USER))) as ws:
        assert_queued(await call(ws, "r1", "delay", {"duration_ms": 3000, "steps": 30}), "r1")
        await recv_for(ws, "r1", lambda m: m["type"] == "progress", timeout=10)
        a.kill()  # mid-job: its lease lapses after 1 s
    assert redis.command("EXISTS", "s:{0}:k:12:redis-tenant10:redis-userr1") == ":1"
    b = start_server("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET, *LEASE)  # a fresh data dir
    async with connect(b.ws_url(b.token(*USER))) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "r1"}), "s")
        assert snap["status"] in ("queued", "running"), snap
        _, last = await until_terminal(ws, "r1", timeout=60)
        assert last["type"] == "result", last
        assert last["result"]["metadata"].get("attempts") == 2, last
        # Re-sending the id through this server starts nothing new.
        again = await call(ws, "r1", "delay", {"duration_ms": 3000})
        assert again["type"] in ("result", "response"), again
        snap = assert_success(await call(ws, "s2", "subscribe", {"request_id": "r1"}), "s2")
        assert snap["status"] == "succeeded" and snap["attempts"] == 2, snap


async def test_identical_submits_through_two_servers_create_one_job(start_server, redis):
    a = start_server("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET)
    b = start_server("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET)
    async with connect(a.ws_url(a.token(*USER))) as wa, connect(b.ws_url(b.token(*USER))) as wb:
        for i in range(10):
            await request(wa, f"same-{i}", "delay", {"duration_ms": 50})
            await request(wb, f"same-{i}", "delay", {"duration_ms": 50})
        for ws in (wa, wb):
            for i in range(10):
                _, first = await recv_for(ws, f"same-{i}", lambda m: True, timeout=10)
                assert first["type"] in ("response", "progress", "result"), first
    # One job per id: the tenant's index holds exactly ten.
    assert redis.command("ZCARD", "s:{0}:ti:redis-tenant") == ":10"


def _serve_exit(*flags) -> tuple[int, str]:
    port = free_port()
    proc = subprocess.run(
        [str(BINARY), "serve", "--listen", f"127.0.0.1:{port}", "--jwt-secret", SECRET,
         "--artifact-secret", ARTIFACT_SECRET, *flags],
        capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


def test_refuses_to_start_on_a_redis_that_may_evict(tmp_path):
    lru = RedisServer(tmp_path, "--maxmemory-policy", "allkeys-lru")
    try:
        rc, out = _serve_exit("--data-dir", str(tmp_path / "d"), "--store", lru.url)
    finally:
        lru.stop()
    assert rc != 0
    assert "noeviction" in out and "allkeys-lru" in out, out


def test_refuses_to_start_without_redis_or_with_a_bad_url(tmp_path):
    rc, out = _serve_exit("--data-dir", str(tmp_path / "d"), "--store",
                          f"redis://:pw-not-in-logs@127.0.0.1:{free_port()}/0")
    assert rc != 0 and "cannot use the Redis store" in out, out
    assert "pw-not-in-logs" not in out
    rc, out = _serve_exit("--data-dir", str(tmp_path / "d"), "--store", "mysql://x")
    assert rc != 0 and "--store must be sqlite" in out, out
