"""Durability: an accepted request is committed before `queued`
is sent, survives kill -9 and restarts on the same data dir, and reaches exactly one
terminal state, retrievable with `subscribe`. Results expire after --result-ttl
(purged by a janitor at start-up and every minute)."""
from __future__ import annotations

import asyncio
import json
import time

from helpers_e2e import (assert_error, assert_queued, assert_success, call, collect_terminals,
                         connect, recv_for, request, snapshot_when_waiting_for_retry, until_terminal)

USER = ("durable-user", "durable-tenant")
# A short lease so that a crashed process's jobs re-run quickly (default 10 s).
LEASE = ("--lease-ttl-ms", "1000")


async def test_kill_9_mid_job_then_restart_and_subscribe(start_server):
    s = start_server(*LEASE)
    async with connect(s.ws_url(s.token(*USER))) as ws:
        assert_queued(await call(ws, "crash-1", "delay", {"duration_ms": 2000, "steps": 20}), "crash-1")
        _, p = await recv_for(ws, "crash-1", lambda m: m["type"] == "progress", timeout=10)
        assert p["progress"]["progress"] < 100
        s.kill()
    t0 = time.monotonic()
    s2 = start_server(*LEASE, data_dir=s.data_dir)
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "crash-1"}), "s")
        assert snap["request_id"] == "crash-1" and snap["action"] == "delay"
        assert snap["status"] in ("queued", "running"), snap
        msgs, last = await until_terminal(ws, "crash-1", timeout=90)
        assert last["type"] == "result", last
        r = last["result"]
        assert r["success"] is True and r["data"] == {"slept_ms": 2000, "steps": 20}
        assert r["metadata"]["handler"] == "delay"
        assert r["metadata"].get("attempts") == 2, r["metadata"]
        assert [m["type"] for m in msgs].count("result") == 1
        snap = assert_success(await call(ws, "s2", "subscribe", {"request_id": "crash-1"}), "s2")
        assert snap["status"] == "succeeded" and snap["attempts"] == 2, snap
    print(f"recovered after restart in {time.monotonic() - t0:.1f}s")


async def test_queued_means_committed(start_server):
    """kill -9 right after `queued`: the request must still exist after restart."""
    s = start_server("--workers", "1", *LEASE)
    async with connect(s.ws_url(s.token(*USER))) as ws:
        assert_queued(await call(ws, "blocker", "delay", {"duration_ms": 3000, "steps": 3}), "blocker")
        for i in range(5):
            assert_queued(await call(ws, f"c{i}", "delay", {"duration_ms": 10}), f"c{i}")
        s.kill()
    s2 = start_server(*LEASE, data_dir=s.data_dir)
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        ids = ["blocker"] + [f"c{i}" for i in range(5)]
        for rid in ids:
            await request(ws, "s-" + rid, "subscribe", {"request_id": rid})
        by_id = await collect_terminals(ws, ids, timeout=90)
    for rid, msgs in by_id.items():
        terminals = [m for m in msgs if m["type"] in ("result", "error")]
        assert len(terminals) == 1 and terminals[0]["type"] == "result", terminals


async def test_many_jobs_across_crash_each_finish_exactly_once(start_server):
    s = start_server("--workers", "4", "--max-concurrent-requests", "50", *LEASE)
    ids = [f"m{i}" for i in range(30)]
    async with connect(s.ws_url(s.token(*USER))) as ws:
        for rid in ids:
            await request(ws, rid, "delay", {"duration_ms": 300, "steps": 3})
        done_before = set()
        got_queued = set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.8
        while loop.time() < deadline:
            try:
                m = await asyncio.wait_for(ws.recv(), 0.1)
            except asyncio.TimeoutError:
                continue
            m = json.loads(m)
            body = m[m["type"]]
            if m["type"] == "response":
                got_queued.add(body["request_id"])
            elif m["type"] == "result":
                done_before.add(body["request_id"])
        s.kill()
    s2 = start_server(*LEASE, data_dir=s.data_dir)
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        for rid in sorted(got_queued):
            await request(ws, "s-" + rid, "subscribe", {"request_id": rid})
        by_id = await collect_terminals(ws, sorted(got_queued), timeout=120)
    assert got_queued, "no request was acknowledged before the crash"
    for rid, msgs in by_id.items():
        terminals = [m for m in msgs if m["type"] in ("result", "error")]
        assert len(terminals) == 1, (rid, terminals)
        assert terminals[0]["type"] == "result", terminals[0]
        assert terminals[0]["result"]["data"] == {"slept_ms": 300, "steps": 3}


async def test_finished_result_survives_graceful_restart(start_server):
    s = start_server()
    async with connect(s.ws_url(s.token(*USER))) as ws:
        assert_queued(await call(ws, "kept", "delay", {"duration_ms": 50, "steps": 2}), "kept")
        _, first = await until_terminal(ws, "kept")
        assert first["type"] == "result"
    assert s.terminate() == 0
    s2 = start_server(data_dir=s.data_dir)
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "kept"}), "s")
        assert snap["status"] == "succeeded"
        assert snap["progress"] is None or snap["progress"]["progress"] == 100
        _, again = await until_terminal(ws, "kept", timeout=5)
        assert again == first, (again, first)
    # Idempotency survives the restart too: a resend runs nothing new and delivers
    # the stored result (the exact answer shape is checked in test_async).
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        await request(ws, "kept", "delay", {"duration_ms": 50, "steps": 2})
        _, stored = await until_terminal(ws, "kept", timeout=5)
        assert stored == first


async def test_results_expire_after_result_ttl(start_server):
    s = start_server("--result-ttl", "1")
    async with connect(s.ws_url(s.token(*USER))) as ws:
        assert_queued(await call(ws, "ephemeral", "delay", {"duration_ms": 10}), "ephemeral")
        _, end = await until_terminal(ws, "ephemeral")
        assert end["type"] == "result"
    # Right after the end it is still there...
    async with connect(s.ws_url(s.token(*USER))) as ws:
        snap = assert_success(await call(ws, "s0", "subscribe", {"request_id": "ephemeral"}), "s0")
        assert snap["status"] == "succeeded"
    # The janitor runs at start-up and then every minute: after the TTL has passed, a
    # restart on the same data dir must have purged it.
    await asyncio.sleep(2.2)
    assert s.terminate() == 0
    s2 = start_server("--result-ttl", "1", data_dir=s.data_dir)
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        msg = await call(ws, "s", "subscribe", {"request_id": "ephemeral"})
    assert_error(msg, "NOT_FOUND", "s")


async def test_job_longer_than_its_lease_runs_once(start_server):
    """The worker heartbeats its lease: a job that runs four lease periods is not
    taken over and run again."""
    s = start_server("--lease-ttl-ms", "500", "--workers", "2")
    async with connect(s.ws_url(s.token(*USER))) as ws:
        assert_queued(await call(ws, "long-lease", "delay", {"duration_ms": 2000, "steps": 20}), "long-lease")
        msgs, last = await until_terminal(ws, "long-lease", timeout=20)
        assert last["type"] == "result", last
        assert last["result"]["metadata"].get("attempts") == 1, last["result"]["metadata"]
        values = [m["progress"]["progress"] for m in msgs if m["type"] == "progress"]
        assert all(a < b for a, b in zip(values, values[1:])), values
        assert [m["type"] for m in msgs].count("result") == 1
        # nothing more: no second run finishing later
        try:
            extra = await asyncio.wait_for(ws.recv(), 1.0)
            raise AssertionError(f"unexpected message after the result: {extra}")
        except asyncio.TimeoutError:
            pass



async def test_crash_during_retry_backoff_then_retry_succeeds(start_server):
    flags = ("--enable-fault-injection", "--retry-base-ms", "3000", *LEASE)
    s = start_server(*flags)
    async with connect(s.ws_url(s.token(*USER))) as ws:
        assert_queued(await call(ws, "backoff", "delay", {"duration_ms": 10, "fail_attempts": 1}), "backoff")
        # Wait until attempt 1 has failed and the request waits for its retry.
        snap = await snapshot_when_waiting_for_retry(ws, "backoff")
        assert snap["attempts"] == 1 and snap["status"] == "queued", snap
        s.kill()
    s2 = start_server(*flags, data_dir=s.data_dir)
    async with connect(s2.ws_url(s2.token(*USER))) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "backoff"}), "s")
        assert snap["status"] in ("queued", "running") and snap["attempts"] >= 1, snap
        msgs, last = await until_terminal(ws, "backoff", timeout=30)
    assert last["type"] == "result", last
    assert last["result"]["metadata"]["attempts"] == 2, last["result"]["metadata"]
    assert [m["type"] for m in msgs].count("result") == 1
