"""The admin API (docs/protocol.md "Admin API and live stats"): jobs.list, jobs.get,
jobs.retry, jobs.cancel, jobs.purge over the WebSocket, scoped by the token: a tenant
user sees only its own requests, a token with the `admin` permission sees all. Every
test runs on the embedded SQLite store and on the Redis store."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from redis_rig import ARTIFACT_SECRET, RedisServer

from helpers_e2e import (assert_error, assert_queued, assert_success, call, collect_terminals, connect, recv_for,
                         request, until_terminal)

FI = "--enable-fault-injection"


@pytest.fixture(params=["sqlite", "redis"])
def store_flags(request, tmp_path):
    """The flags that select the job store of the test's servers."""
    if request.param == "sqlite":
        yield ()
        return
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    redis = RedisServer(Path(tempfile.mkdtemp(dir=tmp_path)))
    yield ("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET)
    redis.stop()


@pytest.fixture
def server(start_server, store_flags):
    return start_server(*store_flags)


@pytest.fixture
def start_on_store(start_server, store_flags):
    """start_server(*flags) on the test's store."""
    return lambda *flags: start_server(*store_flags, *flags)


async def submit_delays(ws, ids, duration_ms=10):
    """Submits the requests and waits for all of them to end."""
    for rid in ids:
        await request(ws, rid, "delay", {"duration_ms": duration_ms})
    await collect_terminals(ws, ids)


def listed(data):
    return [(j["tenant_id"], j["request_id"]) for j in data["jobs"]]


async def test_a_tenant_user_sees_only_its_own_requests_and_an_admin_sees_every_tenant(server):
    alice = server.ws_url(server.token(sub="alice", tenant="t-a"))
    bob = server.ws_url(server.token(sub="bob", tenant="t-b"))
    root = server.ws_url(server.token(sub="root", tenant="ops", permissions=("admin",)))
    async with connect(alice) as wa, connect(bob) as wb, connect(root) as wr:
        await submit_delays(wa, ["a1", "a2"])
        await submit_delays(wb, ["b1"])
        mine = assert_success(await call(wa, "l", "jobs.list", {}), "l")
        assert listed(mine) == [("t-a", "a2"), ("t-a", "a1")]
        assert mine["next_cursor"] is None
        # Another tenant's id answers exactly like an unknown one.
        foreign = await call(wa, "g1", "jobs.get", {"request_id": "b1", "tenant_id": "t-b", "user_id": "bob"})
        unknown = await call(wa, "g2", "jobs.get", {"request_id": "nope"})
        assert_error(foreign, "NOT_FOUND", "g1")
        assert_error(unknown, "NOT_FOUND", "g2")
        assert foreign["error"]["message"] == unknown["error"]["message"]
        assert_error(await call(wa, "g3", "jobs.get", {"request_id": "b1"}), "NOT_FOUND", "g3")
        assert_error(await call(wa, "l2", "jobs.list", {"tenant_id": "t-b"}), "UNAUTHORIZED", "l2")
        assert_error(await call(wa, "c", "jobs.cancel", {"request_id": "b1", "tenant_id": "t-b", "user_id": "bob"}),
                     "NOT_FOUND", "c")

        every = assert_success(await call(wr, "l", "jobs.list", {}), "l")
        assert {("t-a", "a1"), ("t-a", "a2"), ("t-b", "b1")} <= set(listed(every))
        one = assert_success(await call(wr, "l2", "jobs.list", {"tenant_id": "t-b"}), "l2")
        assert listed(one) == [("t-b", "b1")]
        got = assert_success(await call(wr, "g", "jobs.get", {"request_id": "b1", "tenant_id": "t-b",
                                                                "user_id": "bob"}), "g")
        assert got["status"] == "succeeded" and got["payload"] == {"duration_ms": 10}
        assert got["outcome"]["type"] == "result" and got["outcome"]["result"]["request_id"] == "b1"
        assert got["progress"]["progress"] == 100 and got["finished_at"]


async def test_list_pages_with_a_cursor_and_filters_by_action_and_state(server):
    async with connect(server.ws_url(server.token())) as ws:
        ids = [f"p{i}" for i in range(5)]
        await submit_delays(ws, ids)
        assert_success(await call(ws, "e", "echo", {}), "e")
        seen, cursor, pages = [], None, 0
        while True:
            payload = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = assert_success(await call(ws, f"l{pages}", "jobs.list", payload), f"l{pages}")
            pages += 1
            seen += [j["request_id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3 and seen == list(reversed(ids))
        done = assert_success(await call(ws, "s", "jobs.list", {"state": ["succeeded"], "action": "delay"}), "s")
        assert len(done["jobs"]) == 5 and all(j["status"] == "succeeded" for j in done["jobs"])
        assert all(j["progress"] == 100 and j["error_code"] is None for j in done["jobs"])
        none = assert_success(await call(ws, "q", "jobs.list", {"state": "queued"}), "q")
        assert none["jobs"] == []
        future = assert_success(await call(ws, "f", "jobs.list", {"since": "2199-01-01T00:00:00Z"}), "f")
        assert future["jobs"] == []


async def test_every_bad_input_is_a_validation_error_naming_the_field(server):
    cases = [
        ("jobs.list", {"limit": 0}, "limit", "0"),
        ("jobs.list", {"limit": 201}, "limit", "201"),
        ("jobs.list", {"limit": "10"}, "limit", "10"),
        ("jobs.list", {"state": "done"}, "state", "done"),
        ("jobs.list", {"state": ["failed", 3]}, "state[1]", "3"),
        ("jobs.list", {"since": "yesterday"}, "since", "yesterday"),
        ("jobs.list", {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until",
         "2026-01-01T00:00:00Z"),
        ("jobs.list", {"cursor": "forged"}, "cursor", "forged"),
        ("jobs.list", {"action": 5}, "action", "5"),
        ("jobs.get", {}, "request_id", "null"),
        ("jobs.get", {"request_id": ""}, "request_id", ""),
        ("jobs.retry", {"request_id": 12}, "request_id", "12"),
        ("jobs.cancel", {"request_id": None}, "request_id", "null"),
        ("jobs.purge", {}, "older_than", "null"),
        ("jobs.purge", {"older_than": 0}, "older_than", "0"),
        ("jobs.purge", {"older_than": "1d"}, "older_than", "1d"),
    ]
    async with connect(server.ws_url(server.token())) as ws:
        for i, (action, payload, field, received) in enumerate(cases):
            msg = await call(ws, f"v{i}", action, payload)
            err = assert_error(msg, "VALIDATION_ERROR", f"v{i}")
            d = err["details"]
            assert d["field"] == field and d["received"] == received and d["expected"], (action, payload, d)


async def test_retry_gives_a_failed_request_a_new_attempt_of_the_same_id(start_on_store):
    s = start_on_store(FI, "--retry-base-ms", "10")
    async with connect(s.ws_url(s.token())) as ws:
        # Fails its three attempts, so it ends failed; a fourth attempt succeeds.
        assert_queued(await call(ws, "flaky", "delay", {"duration_ms": 10, "fail_attempts": 3}), "flaky")
        _, end = await until_terminal(ws, "flaky", timeout=60)
        assert_error(end, "INTERNAL_ERROR", "flaky")
        row = assert_success(await call(ws, "l", "jobs.list", {"state": "failed"}), "l")["jobs"][0]
        assert row["request_id"] == "flaky" and row["error_code"] == "INTERNAL_ERROR"
        again = assert_success(await call(ws, "r", "jobs.retry", {"request_id": "flaky"}), "r")
        assert again == {"request_id": "flaky", "status": "queued", "attempts": 3, "max_attempts": 6}
    # Another connection of the same user follows the new attempt to its result.
    async with connect(s.ws_url(s.token())) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "flaky"}), "s")
        assert snap["status"] in ("queued", "running", "succeeded"), snap
        _, result = await until_terminal(ws, "flaky", timeout=30)
        assert result["type"] == "result" and result["result"]["metadata"]["attempts"] == 4, result
        got = assert_success(await call(ws, "g", "jobs.get", {"request_id": "flaky"}), "g")
        assert got["status"] == "succeeded" and got["attempts"] == 4 and "retry requested" in got["last_error"]
        # Only failed requests can be retried.
        err = assert_error(await call(ws, "r2", "jobs.retry", {"request_id": "flaky"}), "VALIDATION_ERROR", "r2")
        assert err["details"]["received"] == "succeeded"


async def test_the_connection_that_saw_the_failure_gets_the_retried_result(start_on_store):
    s = start_on_store(FI, "--retry-base-ms", "10")
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "flaky", "delay", {"duration_ms": 1500, "steps": 3, "fail_attempts": 3}),
                      "flaky")  # the attempts fail at once; the fourth runs 1.5 s
        _, end = await until_terminal(ws, "flaky", timeout=60)
        assert_error(end, "INTERNAL_ERROR", "flaky")
        assert_success(await call(ws, "r", "jobs.retry", {"request_id": "flaky"}), "r")
        # The same connection follows the new attempt: its progress and result are not
        # dropped as a repeat of the terminal it already received.
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "flaky"}), "s")
        assert snap["status"] in ("queued", "running"), snap
        seen, result = await until_terminal(ws, "flaky", timeout=30)
        assert result["type"] == "result" and result["result"]["metadata"]["attempts"] == 4, result
        assert any(m["type"] == "progress" for m in seen), seen


async def test_jobs_get_returns_the_progress_history_bounded_by_its_flag(start_on_store):
    s = start_on_store("--progress-history-steps", "3")
    async with connect(s.ws_url(s.token())) as ws:
        await request(ws, "steps", "delay", {"duration_ms": 1000, "steps": 5})
        seen, _ = await until_terminal(ws, "steps", timeout=30)
        got = assert_success(await call(ws, "g", "jobs.get", {"request_id": "steps"}), "g")
    history = got["progress_history"]
    sent = [m["progress"]["progress"] for m in seen if m["type"] == "progress"]
    assert len(sent) >= 4, seen
    # The latest three steps, oldest first, ending with the final 100 %.
    assert len(history) == 3, history
    percents = [h["progress"] for h in history]
    assert percents == sorted(percents) and percents[-1] == 100, history
    assert all(h["attempt"] == 1 and h["at"].endswith("Z") for h in history), history
    assert history[0]["at"] <= history[-1]["at"]


async def test_an_admin_cancels_another_tenants_running_request(server):
    owner = server.ws_url(server.token(sub="bob", tenant="t-b"))
    root = server.ws_url(server.token(sub="root", tenant="ops", permissions=("admin",)))
    async with connect(owner) as wb, connect(root) as wr:
        assert_queued(await call(wb, "long", "delay", {"duration_ms": 60000, "steps": 600}), "long")
        await recv_for(wb, "long", lambda m: m["type"] == "progress", timeout=10)
        data = assert_success(await call(wr, "c", "jobs.cancel", {"request_id": "long", "tenant_id": "t-b",
                                                                    "user_id": "bob"}), "c")
        assert data == {"request_id": "long", "status": "cancelling"}
        _, end = await until_terminal(wb, "long", timeout=10)
        assert_error(end, "CANCELLED", "long")


async def test_purge_deletes_only_the_callers_finished_requests(server):
    alice = server.ws_url(server.token(sub="alice", tenant="t-a"))
    bob = server.ws_url(server.token(sub="bob", tenant="t-b"))
    async with connect(alice) as wa, connect(bob) as wb:
        await submit_delays(wa, ["a1"])
        await submit_delays(wb, ["b1"])
        await asyncio.sleep(0.05)
        purged = assert_success(await call(wa, "p", "jobs.purge", {"older_than": 0.01}), "p")
        assert purged["purged"] == 1
        assert assert_success(await call(wa, "l", "jobs.list", {}), "l")["jobs"] == []
        assert listed(assert_success(await call(wb, "l", "jobs.list", {}), "l")) == [("t-b", "b1")]


async def recv_stats(ws, watch_id, predicate=lambda s: True, timeout=10.0):
    """The next `stats` message of feed `watch_id` for which predicate(body) holds."""
    _, msg = await recv_for(ws, watch_id, lambda m: m["type"] == "stats" and predicate(m["stats"]), timeout)
    return msg["stats"]


async def test_stats_feed_pushes_scoped_stats_every_second(server):
    alice = server.ws_url(server.token(sub="alice", tenant="t-a"))
    bob = server.ws_url(server.token(sub="bob", tenant="t-b"))
    root = server.ws_url(server.token(sub="root", tenant="ops", permissions=("admin",)))
    async with connect(alice) as wa, connect(bob) as wb, connect(root) as wr:
        ok = assert_success(await call(wa, "w", "stats.watch", {}), "w")
        assert ok == {"interval": 1, "scope": {"tenant_id": "t-a", "user_id": "alice"}}
        assert_success(await call(wr, "w", "stats.watch", {}), "w")
        assert_error(await call(wb, "w", "stats.watch", {"tenant_id": "t-a"}), "UNAUTHORIZED", "w")
        # bob's long request runs; alice's feed must not show it, the admin's must.
        await request(wb, "long", "delay", {"duration_ms": 30000, "steps": 300})
        await recv_for(wb, "long", lambda m: m["type"] == "progress", timeout=10)
        await request(wa, "mine", "delay", {"duration_ms": 5})
        seen = await recv_stats(wr, "w", lambda s: any(r["request_id"] == "long" for r in s["running"]))
        row = next(r for r in seen["running"] if r["request_id"] == "long")
        assert row["tenant_id"] == "t-b" and row["progress"] is not None and seen["connections"] >= 3
        t0 = asyncio.get_running_loop().time()
        mine = await recv_stats(wa, "w", lambda s: any(r["outcome"] == "success" for r in s["requests"]))
        assert all(r["request_id"] != "long" for r in mine["running"]) and mine["connections"] is None
        assert {"action": "delay", "outcome": "success", "count": 1} in mine["requests"]
        first = await recv_stats(wa, "w")
        second = await recv_stats(wa, "w")
        assert asyncio.get_running_loop().time() - t0 > 0.5
        assert first["timestamp"] < second["timestamp"]
        # Stopping the feed stops the messages.
        assert_success(await call(wa, "u", "stats.unwatch", {"request_id": "w"}), "u")
        assert_error(await call(wa, "u2", "stats.unwatch", {"request_id": "w"}), "NOT_FOUND", "u2")
        try:
            await recv_stats(wa, "w", timeout=2.5)
            raise AssertionError("a stats message after stats.unwatch")
        except asyncio.TimeoutError:
            pass
        assert_success(await call(wb, "c", "cancel", {"request_id": "long"}), "c")


async def test_stats_watchers_are_bounded(start_on_store):
    s = start_on_store("--stats-max-watchers", "1")
    async with connect(s.ws_url(s.token())) as w1, connect(s.ws_url(s.token())) as w2:
        assert_success(await call(w1, "w", "stats.watch", {}), "w")
        err = assert_error(await call(w2, "w", "stats.watch", {}), "RATE_LIMITED", "w")
        assert err["details"]["limit"] == "stats_watchers" and err["details"]["limit_value"] == 1
    # A closed connection's feed frees its place.
    async with connect(s.ws_url(s.token())) as w3:
        assert_success(await call(w3, "w", "stats.watch", {}), "w")


async def test_http_admin_jobs_is_the_same_api_with_a_bearer_token(server):
    token = server.token(sub="alice", tenant="t-a")
    async with connect(server.ws_url(token)) as ws:
        await submit_delays(ws, ["h1", "h2"])
    auth = {"Authorization": f"Bearer {token}"}
    status, headers, body = server.http_get("/admin/jobs?limit=1&state=succeeded", auth)
    assert status == 200, body
    page = json.loads(body)
    assert [j["request_id"] for j in page["jobs"]] == ["h2"] and page["next_cursor"]
    status, _, body = server.http_get(f"/admin/jobs?limit=1&state=succeeded&cursor={page['next_cursor']}", auth)
    assert [j["request_id"] for j in json.loads(body)["jobs"]] == ["h1"]
    status, _, body = server.http_get("/admin/jobs/h1", auth)
    assert status == 200 and json.loads(body)["payload"] == {"duration_ms": 10}
    status, _, body = server.http_get("/admin/jobs?limit=500", auth)
    assert status == 400 and json.loads(body)["error"]["details"]["field"] == "limit"
    other = {"Authorization": f"Bearer {server.token(sub='bob', tenant='t-b')}"}
    assert server.http_get("/admin/jobs/h1", other)[0] == 404
    assert json.loads(server.http_get("/admin/jobs", other)[2])["jobs"] == []
    assert server.http_get("/admin/jobs")[0] == 401
    assert server.http_get("/admin/jobs", {"Authorization": "Bearer nope"})[0] == 401


def test_a_slow_store_behind_http_admin_does_not_hold_the_io_thread(start_server, tmp_path):
    """With one I/O thread and the Redis store stopped, GET /admin/jobs waits for the
    store off the I/O thread: /healthz on another connection is answered meanwhile, and
    the admin request gets its answer once the store is back."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    redis = RedisServer(Path(tempfile.mkdtemp(dir=tmp_path)))
    try:
        server = start_server("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET, "--io-threads", "1")
        auth = {"Authorization": f"Bearer {server.token(sub='alice', tenant='t-a')}"}
        assert server.http_get("/admin/jobs", auth)[0] == 200
        answers = []
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            admin = threading.Thread(target=lambda: answers.append(server.http_get("/admin/jobs", auth)))
            admin.start()
            time.sleep(0.5)  # the admin request is waiting for the stopped store
            started = time.monotonic()
            status, _, _ = server.http_get("/healthz")
            health_s = time.monotonic() - started
            assert status == 200
            assert health_s < 1.5, f"/healthz took {health_s:.2f} s behind a stalled admin request"
            assert admin.is_alive() and not answers, "the admin request should still wait for the store"
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        admin.join(timeout=10)
        assert answers and answers[0][0] == 200, answers
        assert json.loads(answers[0][2])["jobs"] == []
    finally:
        redis.stop()
