"""Gateways and workers as separate processes sharing Redis for events and cancels
(`streamer serve --workers 0 --event-bus redis://…` and `streamer worker`), and the
refusal to start in any layout where events could not reach their clients. The job
store here is the SQLite file of a shared data dir."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
import websockets

from conftest import BINARY, SECRET
from test_report_helpers import report_payload, run_report, seed, target_of
from helpers_e2e import (assert_error, assert_queued, assert_success, call, connect, recv_for, request,
                         until_terminal)
from redis_rig import ARTIFACT_SECRET, redis_server, start_worker  # noqa: F401 (fixtures)

LEASE = ("--lease-ttl-ms", "1500")


def gateway(start_server, redis, data_dir=None, *flags):
    return start_server("--workers", "0", "--event-bus", redis.url, "--artifact-secret", ARTIFACT_SECRET, *LEASE,
                        *flags, data_dir=data_dir)


def test_worker_refuses_to_start_without_a_shared_event_bus(tmp_path):
    r = subprocess.run([str(BINARY), "worker", "--data-dir", str(tmp_path), "--jwt-secret", SECRET],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 64, r
    assert "--store redis://" in r.stderr and "cannot reach the clients" in r.stderr, r.stderr


def test_gateway_only_refuses_to_start_without_a_shared_event_bus(tmp_path):
    r = subprocess.run([str(BINARY), "serve", "--workers", "0", "--listen", "127.0.0.1:0", "--data-dir",
                        str(tmp_path), "--jwt-secret", SECRET], capture_output=True, text=True, timeout=15)
    assert r.returncode == 64, r
    assert "--workers 0" in r.stderr and "--event-bus" in r.stderr, r.stderr


def test_a_bad_event_bus_url_is_refused(tmp_path):
    r = subprocess.run([str(BINARY), "worker", "--data-dir", str(tmp_path), "--jwt-secret", SECRET,
                        "--event-bus", "http://127.0.0.1:1"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 64 and "redis" in r.stderr.lower(), r


async def test_a_job_run_by_a_worker_process_reaches_the_client_on_the_gateway(redis_server, start_server,
                                                                               start_worker):
    gw = gateway(start_server, redis_server)
    start_worker(gw.data_dir, redis_server.url, *LEASE)
    async with connect(gw.ws_url(gw.token())) as ws:
        assert_queued(await call(ws, "j1", "delay", {"duration_ms": 600, "steps": 3}), "j1")
        mine, last = await until_terminal(ws, "j1", timeout=20)
    assert last["type"] == "result" and last["result"]["success"] is True, last
    progress = [m["progress"]["progress"] for m in mine if m["type"] == "progress"]
    assert progress and progress == sorted(progress), mine  # in order, never a repeat
    assert len(progress) == len(set(progress)), mine


async def test_a_cancel_through_the_gateway_reaches_the_worker_at_once(redis_server, start_server, start_worker):
    gw = gateway(start_server, redis_server, None, "--lease-ttl-ms", "10000")  # renewals every 3.3 s
    start_worker(gw.data_dir, redis_server.url, "--lease-ttl-ms", "10000")
    async with connect(gw.ws_url(gw.token())) as ws:
        assert_queued(await call(ws, "long", "delay", {"duration_ms": 20000, "steps": 200}), "long")
        await recv_for(ws, "long", lambda m: m["type"] == "progress", timeout=15)  # it runs on the worker
        sent = time.monotonic()
        await request(ws, "c", "cancel", {"request_id": "long"})
        _, last = await until_terminal(ws, "long", timeout=10)
        took = time.monotonic() - sent
    assert_error(last, "CANCELLED", "long")
    # Without the push the worker would see the cancel at its next renewal (up to 3.3 s).
    assert took < 1.0, f"cancel took {took * 1000:.0f} ms"
    print(f"cancel → CANCELLED through a worker process: {took * 1000:.1f} ms")


async def test_subscribe_on_another_gateway_after_a_reconnect_gets_the_snapshot_and_later_events(
        redis_server, start_server, start_worker):
    a = gateway(start_server, redis_server)
    b = gateway(start_server, redis_server, a.data_dir)
    start_worker(a.data_dir, redis_server.url, *LEASE)
    tok = a.token()
    async with connect(a.ws_url(tok)) as ws:
        assert_queued(await call(ws, "moving", "delay", {"duration_ms": 2500, "steps": 10}), "moving")
        await recv_for(ws, "moving", lambda m: m["type"] == "progress", timeout=15)
    async with connect(b.ws_url(tok)) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "moving"}), "s")
        assert snap["status"] == "running", snap
        mine, last = await until_terminal(ws, "moving", timeout=20)
    assert last["type"] == "result", last
    after = [m["progress"]["progress"] for m in mine if m["type"] == "progress"]
    assert after, mine  # live progress kept coming through gateway B
    assert after == sorted(after) and len(after) == len(set(after)), mine


async def test_every_terminal_arrives_when_redis_kills_the_pubsub_connections(redis_server, start_server,
                                                                              start_worker):
    gw = gateway(start_server, redis_server)
    start_worker(gw.data_dir, redis_server.url, *LEASE)
    ids = [f"k{i}" for i in range(10)]  # the per-connection bound
    async with connect(gw.ws_url(gw.token())) as ws:
        for rid in ids:
            await request(ws, rid, "delay", {"duration_ms": 400 + 80 * int(rid[1:]), "steps": 2})
        seen: dict = {rid: [] for rid in ids}
        killed = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while any(not any(m["type"] in ("result", "error") for m in v) for v in seen.values()):
            json_msg = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time())))
            rid = (json_msg.get(json_msg["type"]) or {}).get("request_id")
            if rid in seen:
                seen[rid].append(json_msg)
            if killed < 3 and json_msg["type"] == "progress":
                redis_server.cli("CLIENT", "KILL", "TYPE", "pubsub")
                killed += 1
    terminals = {rid: [m for m in v if m["type"] in ("result", "error")] for rid, v in seen.items()}
    assert all(len(t) == 1 for t in terminals.values()), terminals
    bad = {rid: t for rid, t in terminals.items() if t[0]["type"] != "result"}
    assert not bad, bad
    assert killed >= 1
    assert "redis_bus_resync" in gw.log_text()


def test_shared_work_without_an_artifact_secret_is_refused(tmp_path):
    r = subprocess.run([str(BINARY), "worker", "--data-dir", str(tmp_path), "--jwt-secret", SECRET,
                        "--event-bus", "redis://127.0.0.1:1"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 64 and "--artifact-secret is required" in r.stderr, r


async def test_an_artifact_made_by_a_worker_downloads_through_another_gateway(redis_server, start_server,
                                                                              start_worker):
    a = gateway(start_server, redis_server)
    b = gateway(start_server, redis_server, a.data_dir)
    seed(a.data_dir, "tenant-a", 2000)
    start_worker(a.data_dir, redis_server.url, *LEASE, "--public-url", a.http_url)
    _, final = await run_report(a, a.token(tenant="tenant-a"), report_payload(fmt="csv"))
    assert final["type"] == "result", final
    url = final["result"]["data"]["url"]
    status, _, body = b.http_get(target_of(url))
    assert status == 200 and body, (status, body[:200])
    assert body == a.http_get(target_of(url))[2]


async def admitted(url: str, headers=None) -> bool:
    """Connects and sends `health`: True when answered, False when refused with 4429."""
    async with connect(url, additional_headers=headers or {}) as ws:
        try:
            await request(ws, "h", "health")
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except websockets.ConnectionClosed:
            assert ws.close_code == 4429, ws.close_code
            return False
        if msg["type"] == "error" and msg["error"]["request_id"] is None:
            assert msg["error"]["code"] == "RATE_LIMITED", msg
            return False
        return True


async def test_the_connection_rate_of_one_address_counts_across_gateways(redis_server, start_server):
    gws = [gateway(start_server, redis_server) for _ in range(3)]
    tok = gws[0].token()
    results = []
    for batch in range(15):  # 150 attempts, spread over the 3 gateways, 10 at a time
        urls = [gws[(batch * 10 + i) % 3].ws_url(tok) for i in range(10)]
        results += await asyncio.gather(*(admitted(u) for u in urls))
    assert sum(results) == 100, f"{sum(results)} of 150 admitted"


async def test_forwarded_for_names_the_client_only_behind_a_trusted_proxy(start_server):
    trusting = start_server("--max-connections-per-minute", "3", "--trusted-proxies", "127.0.0.1")
    tok = trusting.token()
    first = {"X-Forwarded-For": "203.0.113.1"}
    assert [await admitted(trusting.ws_url(tok), first) for _ in range(4)] == [True, True, True, False]
    assert await admitted(trusting.ws_url(tok), {"X-Forwarded-For": "203.0.113.2"})  # another client
    # A client that forges the header in front of the proxy's entry is still counted
    # as the address the proxy saw.
    assert not await admitted(trusting.ws_url(tok), {"X-Forwarded-For": "198.51.100.9, 203.0.113.1"})

    plain = start_server("--max-connections-per-minute", "3")  # trusts nobody: the header is ignored
    results = [await admitted(plain.ws_url(tok), {"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(4)]
    assert results == [True, True, True, False]


async def test_on_the_redis_store_gateway_and_worker_share_nothing_but_redis(redis_server, start_server,
                                                                             start_worker, tmp_path):
    # --store redis://… alone: the event bus is the store's Redis; separate data dirs.
    gw = start_server("--workers", "0", "--store", redis_server.url, "--artifact-secret", ARTIFACT_SECRET)
    worker_dir = tmp_path / "worker-data"
    worker_dir.mkdir()
    start_worker(worker_dir, "", "--store", redis_server.url)
    async with connect(gw.ws_url(gw.token())) as ws:
        assert_queued(await call(ws, "r1", "delay", {"duration_ms": 400, "steps": 2}), "r1")
        mine, last = await until_terminal(ws, "r1", timeout=20)
        assert last["type"] == "result", last
        assert_queued(await call(ws, "r2", "delay", {"duration_ms": 20000, "steps": 200}), "r2")
        await recv_for(ws, "r2", lambda m: m["type"] == "progress", timeout=15)
        sent = time.monotonic()
        await request(ws, "c", "cancel", {"request_id": "r2"})
        _, last = await until_terminal(ws, "r2", timeout=10)
        assert_error(last, "CANCELLED", "r2")
        assert time.monotonic() - sent < 1.0
