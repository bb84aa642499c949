"""Limits (docs/protocol.md "Rate limits" and close codes):
connection rate per IP (4429), message rate and concurrent requests per connection
(RATE_LIMITED with details.limit -- the limit's name -- details.limit_value and
details.retry_after_ms; the connection stays open),
message size (1009). Also: limits set through STREAMER_* and a TOML --config."""
from __future__ import annotations

import asyncio
import json
import os

import pytest
from websockets.exceptions import ConnectionClosed

from helpers_e2e import (assert_error, assert_queued, assert_success, call, collect_terminals,
                         connect, expect_close, expect_rejected, is_number, recv, recv_for,
                         request)


# -- connection rate --------------------------------------------------------------------

async def test_connection_rate_per_ip(start_server):
    s = start_server("--max-connections-per-minute", "5")
    tok = s.token()
    for i in range(5):
        async with connect(s.ws_url(tok)) as ws:
            assert assert_success(await call(ws, f"c{i}", "health"), f"c{i}")["status"] == "healthy"
    msgs, code = await expect_rejected(s.ws_url(tok))
    assert len(msgs) == 1, msgs
    assert set(msgs[0]) == {"type", "error"}
    err = assert_error(msgs[0], "RATE_LIMITED", None, reason="connection_rate")
    assert err["details"]["retryable"] is True, err
    ra = err["details"].get("retry_after_ms")
    assert isinstance(ra, int) and 0 < ra <= 60_000, f"details.retry_after_ms: {err}"
    assert code == 4429
    # Still limited on the next attempt.
    msgs, code = await expect_rejected(s.ws_url(tok))
    assert code == 4429


async def test_connections_counted_not_concurrent(start_server):
    """Closing connections does not give the budget back within the minute."""
    s = start_server("--max-connections-per-minute", "2")
    tok = s.token()
    for i in range(2):
        async with connect(s.ws_url(tok)) as ws:
            await call(ws, "h", "health")
    msgs, code = await expect_rejected(s.ws_url(tok))
    assert code == 4429 and msgs and msgs[0]["error"]["code"] == "RATE_LIMITED"


# -- message rate ---------------------------------------------------------------------------

async def test_message_rate_per_connection(start_server):
    """Over the rate, a request is dropped without being parsed or run, and answered
    RATE_LIMITED with its own request_id (read from the message's first bytes only)."""
    s = start_server("--max-messages-per-second", "10")
    async with connect(s.ws_url(s.token())) as ws:
        n = 30
        for i in range(n):
            await ws.send(json.dumps({"id": f"r{i}", "action": "health"}))
        got = []
        try:
            while True:
                got.append(await recv(ws, timeout=0.5))
        except asyncio.TimeoutError:
            pass
        ok = [m for m in got if m["type"] == "response"]
        limited = [m for m in got if m["type"] == "error"]
        ids = [m["response"]["request_id"] for m in ok]
        assert len(set(ids)) == len(ids) and set(ids) <= {f"r{i}" for i in range(n)}
        assert 10 <= len(ok) <= 13, f"{len(ok)} of {n} accepted in a burst with a limit of 10/s"
        # Every request gets exactly one answer: success or its own RATE_LIMITED.
        limited_ids = [m["error"]["request_id"] for m in limited]
        assert sorted(ids + limited_ids) == sorted(f"r{i}" for i in range(n)), got
        for m in limited:
            err = assert_error(m, "RATE_LIMITED", m["error"]["request_id"], limit="messages_per_second",
                               limit_value=10, retryable=True)
            ra = err["details"].get("retry_after_ms")
            assert isinstance(ra, int) and not isinstance(ra, bool) and 0 < ra <= 1000, err
        # The connection stays open; after waiting retry_after_ms, a request passes again.
        await asyncio.sleep(ra / 1000 + 0.05)
        assert assert_success(await call(ws, "later", "health"), "later")["status"] == "healthy"
        assert ws.close_code is None


async def test_malformed_messages_count_towards_message_rate(start_server):
    s = start_server("--max-messages-per-second", "5")
    async with connect(s.ws_url(s.token())) as ws:
        for _ in range(5):
            await ws.send("{garbage")
        for _ in range(5):
            assert (await recv(ws))["error"]["code"] == "VALIDATION_ERROR"
        await request(ws, "x", "health")  # over the rate: not run, answered with its id
        assert_error(await recv(ws), "RATE_LIMITED", "x", limit="messages_per_second", limit_value=5)
        await ws.send("{garbage")  # no id to read: one notice per second, request_id null
        assert_error(await recv(ws), "RATE_LIMITED", None, limit="messages_per_second", limit_value=5)


# -- concurrent requests ------------------------------------------------------------------

async def test_eleventh_concurrent_async_request_is_rate_limited(start_server):
    s = start_server("--workers", "12")
    async with connect(s.ws_url(s.token())) as ws:
        for i in range(10):
            await request(ws, f"d{i}", "delay", {"duration_ms": 1500, "steps": 1})
        await request(ws, "d10", "delay", {"duration_ms": 100, "steps": 1})
        seen = {}
        queued = set()
        while "d10" not in seen or len(queued) < 10:
            m = await recv(ws)
            body = m[m["type"]]
            if m["type"] == "response" and body["status"] == "queued":
                assert_queued(m, body["request_id"])
                queued.add(body["request_id"])
            if body["request_id"] == "d10":
                seen["d10"] = m
        assert queued == {f"d{i}" for i in range(10)}, queued
        err = assert_error(seen["d10"], "RATE_LIMITED", "d10", limit="concurrent_requests", limit_value=10,
                           retryable=True)
        ra = err["details"].get("retry_after_ms")
        assert is_number(ra) and ra >= 0, err
        # Sync requests count too while 10 async requests are unfinished.
        assert_error(await call(ws, "h-busy", "health"), "RATE_LIMITED", "h-busy", limit="concurrent_requests",
                 limit_value=10)
        # The connection stays open; the rejected request was never stored.
        by_id = await collect_terminals(ws, [f"d{i}" for i in range(10)], timeout=30)
        for rid, msgs in by_id.items():
            assert msgs[-1]["type"] == "result" and msgs[-1]["result"]["success"] is True, msgs[-1]
        assert assert_success(await call(ws, "h-free", "health"), "h-free")["status"] == "healthy"
        assert_error(await call(ws, "s", "subscribe", {"request_id": "d10"}), "NOT_FOUND", "s")
        # Slots are free again: a new async request is accepted.
        assert_queued(await call(ws, "d11", "delay", {"duration_ms": 10}), "d11")


async def test_concurrency_limit_is_configurable_and_per_connection(start_server):
    s = start_server("--max-concurrent-requests", "2", "--workers", "6")
    tok = s.token()
    async with connect(s.ws_url(tok)) as a, connect(s.ws_url(tok)) as b:
        assert_queued(await call(a, "x1", "delay", {"duration_ms": 1000}), "x1")
        assert_queued(await call(a, "x2", "delay", {"duration_ms": 1000}), "x2")
        assert_error(await call(a, "x3", "delay", {"duration_ms": 1000}), "RATE_LIMITED", "x3", limit="concurrent_requests",
                     limit_value=2)
        # Another connection of the same user has its own budget.
        assert_queued(await call(b, "y1", "delay", {"duration_ms": 1000}), "y1")
        assert_queued(await call(b, "y2", "delay", {"duration_ms": 1000}), "y2")


# -- message size -----------------------------------------------------------------------

def echo_of_size(n: int, id_="big") -> str:
    base = json.dumps({"id": id_, "action": "echo", "payload": {"blob": ""}})
    return json.dumps({"id": id_, "action": "echo", "payload": {"blob": "x" * (n - len(base))}})


async def test_message_over_max_bytes_closes_1009(start_server):
    s = start_server("--max-message-bytes", "1000")
    async with connect(s.ws_url(s.token())) as ws:
        ok = echo_of_size(950, "fits")
        assert len(ok) == 950
        assert assert_success(await call_raw(ws, ok, "fits"), "fits")["blob"].startswith("x")
        await send_ignoring_close(ws, echo_of_size(1500, "too-big"))
        msgs, code, _ = await expect_close(ws, timeout=10)
    assert code == 1009, (code, msgs)
    assert not any(m.get("type") == "response" for m in msgs), msgs


async def test_default_max_message_is_1mb(server):
    async with connect(server.ws_url(server.token())) as ws:
        ok = echo_of_size(999_000, "fits")
        msg = await call_raw(ws, ok, "fits", timeout=20)
        assert len(assert_success(msg, "fits")["blob"]) > 998_000
        try:
            await ws.send(echo_of_size(1_100_000, "too-big"))
        except ConnectionClosed:
            pass  # the server may close (1009) before the client finished writing the frame
        msgs, code, _ = await expect_close(ws, timeout=10)
    assert code == 1009, (code, msgs)


async def send_ignoring_close(ws, text):
    try:
        await ws.send(text)
    except ConnectionClosed:
        pass  # the server may close (1009) before the client finished writing the frame


async def call_raw(ws, text, rid, timeout=10):
    await ws.send(text)
    m = await recv(ws, timeout)
    assert m[m["type"]]["request_id"] == rid, m
    return m


# -- configuration sources ---------------------------------------------------------------

async def assert_limit_1000(s):
    async with connect(s.ws_url(s.token())) as ws:
        assert_success(await call_raw(ws, echo_of_size(900, "ok"), "ok"), "ok")
        await send_ignoring_close(ws, echo_of_size(1500, "big"))
        _, code, _ = await expect_close(ws, timeout=10)
    assert code == 1009


async def assert_limit_not_1000(s):
    async with connect(s.ws_url(s.token())) as ws:
        assert_success(await call_raw(ws, echo_of_size(1500, "ok"), "ok"), "ok")


async def test_limit_from_environment(start_server):
    s = start_server(env={**os.environ, "STREAMER_MAX_MESSAGE_BYTES": "1000"})
    await assert_limit_1000(s)


async def test_limit_from_toml_config(start_server, tmp_path):
    cfg = tmp_path / "streamer.toml"
    cfg.write_text("max_message_bytes = 1000\nmax_messages_per_second = 100\n")
    s = start_server("--config", str(cfg))
    await assert_limit_1000(s)


async def test_flag_overrides_environment_overrides_config(start_server, tmp_path):
    cfg = tmp_path / "streamer.toml"
    cfg.write_text("max_message_bytes = 1000\n")
    # env beats the file
    s = start_server("--config", str(cfg), env={**os.environ, "STREAMER_MAX_MESSAGE_BYTES": "100000"})
    await assert_limit_not_1000(s)
    # the flag beats the env
    s2 = start_server("--max-message-bytes", "1000",
                      env={**os.environ, "STREAMER_MAX_MESSAGE_BYTES": "100000"})
    await assert_limit_1000(s2)


async def test_message_size_limit_boundary(start_server):
    s = start_server("--max-message-bytes", "1000")
    async with connect(s.ws_url(s.token())) as ws:
        exact = echo_of_size(1000, "exact")
        assert len(exact.encode()) == 1000
        assert_success(await call_raw(ws, exact, "exact"), "exact")
        await send_ignoring_close(ws, echo_of_size(1001, "over"))
        _, code, _ = await expect_close(ws, timeout=10)
    assert code == 1009


async def test_sync_requests_in_flight_count_towards_concurrency(start_server):
    s = start_server("--enable-fault-injection", "--sync-threads", "4")
    async with connect(s.ws_url(s.token())) as ws:
        for i in range(10):
            await request(ws, f"spin{i}", "echo", {"spin_ms": 400})
        msg = await call(ws, "eleventh", "health")
        if msg["type"] == "response":
            pytest.xfail("echo has no spin_ms busy work (all 10 finished at once)")
        assert_error(msg, "RATE_LIMITED", "eleventh", limit="concurrent_requests", limit_value=10)
        answered = set()
        while len(answered) < 10:
            m = await recv(ws, 10)
            answered.add(m[m["type"]]["request_id"])
        assert answered == {f"spin{i}" for i in range(10)}
        assert_success(await call(ws, "after", "health"), "after")


async def test_cancelling_a_queued_request_frees_its_slot(start_server):
    s = start_server("--workers", "1", "--max-concurrent-requests", "3")
    async with connect(s.ws_url(s.token())) as ws:
        for i in range(3):
            assert_queued(await call(ws, f"q{i}", "delay", {"duration_ms": 3000}), f"q{i}")
        assert_error(await call(ws, "q3", "delay", {"duration_ms": 10}), "RATE_LIMITED", "q3")
        assert_success(await call(ws, "c", "cancel", {"request_id": "q2"}), "c")
        await recv_for(ws, "q2", lambda m: m["type"] == "error", timeout=5)
        assert_queued(await call(ws, "q4", "delay", {"duration_ms": 10}), "q4")


async def test_resending_an_unfinished_id_takes_no_extra_slot(start_server):
    s = start_server("--max-concurrent-requests", "2", "--workers", "4")
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "x1", "delay", {"duration_ms": 2000}), "x1")
        for _ in range(3):
            assert_queued(await call(ws, "x1", "delay", {"duration_ms": 2000}), "x1", resend=True)
        # Only one request is unfinished: a second one fits.
        assert_queued(await call(ws, "x2", "delay", {"duration_ms": 10}), "x2")


async def test_subscriptions_take_no_slots(start_server):
    s = start_server("--max-concurrent-requests", "2", "--workers", "6")
    tok = s.token()
    async with connect(s.ws_url(tok)) as a, connect(s.ws_url(tok)) as b:
        for i in range(2):
            assert_queued(await call(a, f"a{i}", "delay", {"duration_ms": 2000}), f"a{i}")
        for i in range(2):
            assert_success(await call(b, f"s{i}", "subscribe", {"request_id": f"a{i}"}), f"s{i}")
        assert_queued(await call(b, "b0", "delay", {"duration_ms": 10}), "b0")
        assert_queued(await call(b, "b1", "delay", {"duration_ms": 10}), "b1")
