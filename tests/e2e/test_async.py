"""Async requests (docs/protocol.md "Sync and async", "Beyond the
seed"): queued -> progress -> result, subscribe after reconnect, cancel, time limit,
retries, idempotent ids, tenant isolation, validation, and slow readers."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from helpers_e2e import (RawWs, assert_error, assert_queued, assert_success, call, collect_terminals,
                         connect, expect_close, is_number, parse_iso_z, recv, recv_for, request, request_id_of,
                         rss_kb, snapshot_when_waiting_for_retry, until_terminal)

FI = "--enable-fault-injection"


def assert_progress_body(msg, rid):
    assert set(msg) == {"type", "progress"}, msg
    p = msg["progress"]
    assert set(p) >= {"request_id", "progress", "message", "timestamp"}, p
    assert p["request_id"] == rid
    assert is_number(p["progress"]) and 0 <= p["progress"] <= 100, p
    assert isinstance(p["message"], str), p
    assert isinstance(p.get("metadata", {}), dict), p
    parse_iso_z(p["timestamp"])
    return p


def assert_progress_sequence(msgs, rid):
    values = [assert_progress_body(m, rid)["progress"] for m in msgs if m["type"] == "progress"]
    assert values, "no progress messages"
    assert all(a < b for a, b in zip(values, values[1:])), f"progress not strictly increasing: {values}"
    assert values[-1] == 100, f"last progress before the result is {values[-1]}, not 100"
    return values


def assert_result(msg, rid, data, handler="delay"):
    assert set(msg) == {"type", "result"}, msg
    r = msg["result"]
    assert set(r) >= {"request_id", "success", "data", "metadata"}, r
    assert r["request_id"] == rid
    assert r["success"] is True
    assert r["data"] == data
    md = r["metadata"]
    assert md["handler"] == handler, md
    assert is_number(md["total_processing_time"]) and md["total_processing_time"] >= 0, md
    return r


# -- the happy path -----------------------------------------------------------------------------

async def test_queued_progress_result_field_by_field(server):
    async with connect(server.ws_url(server.token())) as ws:
        t0 = time.monotonic()
        await request(ws, "job-1", "delay", {"duration_ms": 1000, "steps": 5},
                      {"trace_id": "trace-async-1", "client_version": "1.0.0"})
        first = await recv(ws)
        assert_queued(first, "job-1")
        msgs, last = await until_terminal(ws, "job-1", timeout=20)
        elapsed = time.monotonic() - t0
    assert all(m["type"] in ("progress", "result") for m in msgs), msgs
    assert [m["type"] for m in msgs].count("result") == 1
    values = assert_progress_sequence(msgs[:-1], "job-1")
    assert len(values) >= 2, values
    r = assert_result(last, "job-1", {"slept_ms": 1000, "steps": 5})
    assert 0.9 <= r["metadata"]["total_processing_time"] <= elapsed + 0.5, (r, elapsed)
    assert r["metadata"].get("trace_id") == "trace-async-1", r["metadata"]
    assert r["metadata"].get("attempts") == 1, r["metadata"]
    assert elapsed >= 1.0
    assert "trace-async-1" in server.log_text()


async def test_delay_defaults_to_one_step_and_zero_duration_works(server):
    async with connect(server.ws_url(server.token())) as ws:
        assert_queued(await call(ws, "z", "delay", {"duration_ms": 0}), "z")
        msgs, last = await until_terminal(ws, "z")
    assert_progress_sequence(msgs[:-1], "z")
    assert_result(last, "z", {"slept_ms": 0, "steps": 1})


async def test_many_async_jobs_each_get_exactly_one_result(start_server):
    s = start_server("--workers", "4", "--max-concurrent-requests", "50")
    async with connect(s.ws_url(s.token())) as ws:
        ids = [f"n{i}" for i in range(40)]
        for rid in ids:
            await request(ws, rid, "delay", {"duration_ms": 20, "steps": 2})
        by_id = await collect_terminals(ws, ids, timeout=60)
        # nothing more arrives for them
        with pytest.raises(asyncio.TimeoutError):
            while True:
                m = await recv(ws, 0.5)
                assert request_id_of(m) not in ids or m["type"] not in ("result", "error"), m
    for rid, msgs in by_id.items():
        assert msgs[0]["type"] == "response" and msgs[0]["response"]["status"] == "queued", msgs[0]
        assert [m["type"] for m in msgs].count("result") == 1
        assert_result(msgs[-1], rid, {"slept_ms": 20, "steps": 2})


@pytest.mark.parametrize("payload,field", [
    ({"duration_ms": -1}, "duration_ms"),
    ({"duration_ms": 600001}, "duration_ms"),
    ({"duration_ms": "100"}, "duration_ms"),
    ({"duration_ms": 10, "steps": 0}, "steps"),
    ({"duration_ms": 10, "steps": 1001}, "steps"),
    ({}, "duration_ms"),
], ids=["negative", "too-long", "string", "zero-steps", "too-many-steps", "missing"])
async def test_delay_payload_validation(server, payload, field):
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "bad", "delay", payload)
        err = assert_error(msg, "VALIDATION_ERROR", "bad", retryable=False)
        assert err["details"].get("field") == field, err
        assert {"field", "expected", "received"} <= set(err["details"]), err
        if field in payload:
            # the received value, as JSON or as its text
            assert err["details"]["received"] in (payload[field], str(payload[field])), err
        # nothing was stored for it
        assert_error(await call(ws, "s", "subscribe", {"request_id": "bad"}), "NOT_FOUND", "s")


async def test_delay_is_off_unless_enabled(start_server):
    s = start_server(delay=False)
    async with connect(s.ws_url(s.token())) as ws:
        err = assert_error(await call(ws, "d", "delay", {"duration_ms": 10}), "INVALID_ACTION", "d")
        assert "delay" not in err["details"]["available"], err
        assert "echo" in err["details"]["available"], err


# -- subscribe -----------------------------------------------------------------------------------

async def test_disconnect_then_subscribe_gets_the_result(start_server):
    s = start_server("--workers", "4")
    tok = s.token("sub-user", "sub-tenant")
    async with connect(s.ws_url(tok)) as ws:
        assert_queued(await call(ws, "long", "delay", {"duration_ms": 2000, "steps": 10}), "long")
        assert_queued(await call(ws, "short", "delay", {"duration_ms": 200, "steps": 1}), "short")
        await recv_for(ws, "long", lambda m: m["type"] == "progress", timeout=10)
    # Disconnected mid-job: "short" finishes while nobody listens; "long" is still running.
    await asyncio.sleep(0.5)
    async with connect(s.ws_url(s.token("sub-user", "sub-tenant"))) as ws:
        snap = assert_success(await call(ws, "s-long", "subscribe", {"request_id": "long"}), "s-long")
        assert set(snap) >= {"request_id", "action", "status", "attempts", "progress", "created_at",
                             "updated_at"}, snap
        assert snap["request_id"] == "long" and snap["action"] == "delay"
        assert snap["status"] == "running", snap
        assert snap["attempts"] == 1
        assert snap["progress"] is not None and 0 < snap["progress"]["progress"] < 100, snap
        created, updated = parse_iso_z(snap["created_at"]), parse_iso_z(snap["updated_at"])
        assert created <= updated
        msgs, last = await until_terminal(ws, "long", timeout=20)
        assert_result(last, "long", {"slept_ms": 2000, "steps": 10})
        later = [m["progress"]["progress"] for m in msgs if m["type"] == "progress"]
        assert later and later[-1] == 100
        assert all(v >= snap["progress"]["progress"] for v in later), (snap, later)

        # The finished one: snapshot says succeeded, then the stored result is re-sent.
        snap2 = assert_success(await call(ws, "s-short", "subscribe", {"request_id": "short"}), "s-short")
        assert snap2["status"] == "succeeded" and snap2["action"] == "delay", snap2
        assert snap2["progress"] is None or snap2["progress"]["progress"] == 100, snap2
        _, res = await until_terminal(ws, "short", timeout=5)
        assert_result(res, "short", {"slept_ms": 200, "steps": 1})


async def test_two_subscribers_each_get_one_result(server):
    tok = server.token("multi", "t-multi")
    async with connect(server.ws_url(tok)) as a, connect(server.ws_url(tok)) as b:
        assert_queued(await call(a, "shared", "delay", {"duration_ms": 800, "steps": 4}), "shared")
        assert_success(await call(b, "sb", "subscribe", {"request_id": "shared"}), "sb")
        (ma, la), (mb, lb) = await asyncio.gather(until_terminal(a, "shared"), until_terminal(b, "shared"))
        for last in (la, lb):
            assert_result(last, "shared", {"slept_ms": 800, "steps": 4})
        for ws in (a, b):
            with pytest.raises(asyncio.TimeoutError):
                while True:
                    m = await recv(ws, 0.5)
                    assert not (request_id_of(m) == "shared" and m["type"] in ("result", "error")), m


async def test_subscribe_unknown_and_malformed(server):
    async with connect(server.ws_url(server.token())) as ws:
        assert_error(await call(ws, "s1", "subscribe", {"request_id": "never-existed"}), "NOT_FOUND", "s1",
                     retryable=False)
        err = assert_error(await call(ws, "s2", "subscribe", {}), "VALIDATION_ERROR", "s2")
        assert err["details"].get("field") == "request_id", err
        assert_error(await call(ws, "c1", "cancel", {"request_id": "never-existed"}), "NOT_FOUND", "c1")
        err = assert_error(await call(ws, "c2", "cancel", {}), "VALIDATION_ERROR", "c2")
        assert err["details"].get("field") == "request_id", err
        err = assert_error(await call(ws, "s3", "subscribe", {"request_id": 17}), "VALIDATION_ERROR", "s3")
        assert err["details"].get("field") == "request_id", err


async def test_subscribe_to_a_sync_request_id_is_not_found(server):
    async with connect(server.ws_url(server.token())) as ws:
        assert_success(await call(ws, "sync-1", "health"), "sync-1")
        assert_error(await call(ws, "s", "subscribe", {"request_id": "sync-1"}), "NOT_FOUND", "s")


# -- tenant and user isolation -----------------------------------------------------------------------

@pytest.mark.parametrize("other", [("mallory", "tenant-b"), ("bob", "tenant-a")],
                         ids=["other-tenant", "same-tenant-other-user"])
async def test_foreign_subscribe_and_cancel_are_not_found(server, other):
    async with connect(server.ws_url(server.token("alice", "tenant-a"))) as owner, \
            connect(server.ws_url(server.token(*other))) as intruder:
        assert_queued(await call(owner, "secret-job", "delay", {"duration_ms": 1000, "steps": 2}), "secret-job")
        assert_error(await call(intruder, "s", "subscribe", {"request_id": "secret-job"}), "NOT_FOUND", "s")
        assert_error(await call(intruder, "c", "cancel", {"request_id": "secret-job"}), "NOT_FOUND", "c")
        # The intruder may use the same id for their own request: it is a different request.
        assert_queued(await call(intruder, "secret-job", "delay", {"duration_ms": 10}), "secret-job")
        _, own = await until_terminal(intruder, "secret-job")
        assert_result(own, "secret-job", {"slept_ms": 10, "steps": 1})
        # The owner's job was neither cancelled nor leaked.
        msgs, last = await until_terminal(owner, "secret-job")
        assert_result(last, "secret-job", {"slept_ms": 1000, "steps": 2})
    # After it finished, still invisible to the intruder: a fresh connection of theirs
    # subscribing to the id sees only their own request.
    async with connect(server.ws_url(server.token(*other))) as intruder:
        snap = assert_success(await call(intruder, "s2", "subscribe", {"request_id": "secret-job"}), "s2")
        assert snap["status"] == "succeeded"
        _, again = await until_terminal(intruder, "secret-job", timeout=10)
        assert again["result"]["data"] == {"slept_ms": 10, "steps": 1}, "intruder saw the owner's result"


# -- cancel ----------------------------------------------------------------------------------------------

async def test_cancel_queued_and_running(start_server):
    # One waiting job of the tenant at once: "waiting" stays queued behind "running".
    s = start_server("--workers", "1", "--max-waiting-per-tenant", "1")
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "running", "delay", {"duration_ms": 10000, "steps": 100}), "running")
        await recv_for(ws, "running", lambda m: m["type"] == "progress", timeout=10)
        assert_queued(await call(ws, "waiting", "delay", {"duration_ms": 10, "steps": 1}), "waiting")

        # queued: cancelled at once
        resp = await call(ws, "c-wait", "cancel", {"request_id": "waiting"})
        assert assert_success(resp, "c-wait") == {"request_id": "waiting", "status": "cancelled"}
        _, end = await until_terminal(ws, "waiting", timeout=5)
        assert_error(end, "CANCELLED", "waiting")

        # running: cooperative
        t0 = time.monotonic()
        resp = await call(ws, "c-run", "cancel", {"request_id": "running"})
        assert assert_success(resp, "c-run") == {"request_id": "running", "status": "cancelling"}
        msgs, end = await until_terminal(ws, "running", timeout=5)
        assert_error(end, "CANCELLED", "running")
        assert time.monotonic() - t0 < 2.0, "cancel of a running delay took too long"

        # Cancelling again reports the final status and does nothing else.
        resp = await call(ws, "c-again", "cancel", {"request_id": "running"})
        assert assert_success(resp, "c-again") == {"request_id": "running", "status": "cancelled"}
        with pytest.raises(asyncio.TimeoutError):
            while True:
                m = await recv(ws, 0.5)
                assert request_id_of(m) != "running", m


    # A new connection's snapshot says cancelled, and the stored error is re-sent.
    async with connect(s.ws_url(s.token())) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "running"}), "s")
        assert snap["status"] == "cancelled"
        _, again = await until_terminal(ws, "running", timeout=5)
        assert_error(again, "CANCELLED", "running")
        snap = assert_success(await call(ws, "s2", "subscribe", {"request_id": "waiting"}), "s2")
        assert snap["status"] == "cancelled"
        _, again = await until_terminal(ws, "waiting", timeout=5)
        assert_error(again, "CANCELLED", "waiting")


async def test_subscribe_resends_stored_result_on_the_same_connection(server):
    """docs/protocol.md: "If the request has already finished, its stored terminal
    message is sent again right after this response" -- also on the connection that
    already received it (a client that lost its state re-asks on the same socket)."""
    async with connect(server.ws_url(server.token())) as ws:
        assert_queued(await call(ws, "j", "delay", {"duration_ms": 10}), "j")
        _, first = await until_terminal(ws, "j")
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "j"}), "s")
        assert snap["status"] == "succeeded"
        _, again = await until_terminal(ws, "j", timeout=5)
        assert again == first


async def test_cancel_finished_request_reports_final_status(server):
    async with connect(server.ws_url(server.token())) as ws:
        assert_queued(await call(ws, "done", "delay", {"duration_ms": 10}), "done")
        await until_terminal(ws, "done")
        resp = await call(ws, "c", "cancel", {"request_id": "done"})
        assert assert_success(resp, "c") == {"request_id": "done", "status": "succeeded"}
        with pytest.raises(asyncio.TimeoutError):
            m = await recv(ws, 0.7)
            pytest.fail(f"unexpected message after cancelling a finished request: {m}")


# -- time limits and retries (--enable-fault-injection) --------------------------------------------

async def test_time_limit_gives_timeout(start_server):
    s = start_server(FI)
    async with connect(s.ws_url(s.token())) as ws:
        t0 = time.monotonic()
        assert_queued(await call(ws, "slow", "delay", {"duration_ms": 10000, "steps": 10,
                                                       "time_limit_ms": 500}), "slow")
        msgs, end = await until_terminal(ws, "slow", timeout=30)
        err = assert_error(end, "TIMEOUT", "slow", retryable=True)
        assert time.monotonic() - t0 < 9, "the time limit was not enforced"
        assert not any(m["type"] == "result" for m in msgs)
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "slow"}), "s")
        assert snap["status"] == "failed", snap
        _, again = await until_terminal(ws, "slow", timeout=5)  # the stored error, re-sent
        assert_error(again, "TIMEOUT", "slow")
        # The stopped handler produces nothing more.
        with pytest.raises(asyncio.TimeoutError):
            while True:
                m = await recv(ws, 1.0)
                assert request_id_of(m) != "slow", f"message after TIMEOUT: {m}"


async def test_retry_then_success(start_server):
    s = start_server(FI)
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "flaky", "delay", {"duration_ms": 50, "steps": 1, "fail_attempts": 1}),
                      "flaky")
        msgs, end = await until_terminal(ws, "flaky", timeout=60)
        r = assert_result(end, "flaky", {"slept_ms": 50, "steps": 1})
        assert r["metadata"].get("attempts") == 2, r["metadata"]
        assert [m["type"] for m in msgs].count("error") == 0, "a retried attempt leaked an error"
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "flaky"}), "s")
        assert snap["status"] == "succeeded" and snap["attempts"] == 2, snap


async def test_retries_exhausted_is_internal_error_with_attempts(start_server):
    s = start_server(FI)
    async with connect(s.ws_url(s.token())) as ws:
        t0 = time.monotonic()
        assert_queued(await call(ws, "broken", "delay", {"duration_ms": 10, "fail_attempts": 100}), "broken")
        msgs, end = await until_terminal(ws, "broken", timeout=90)
        err = assert_error(end, "INTERNAL_ERROR", "broken", retryable=True)
        assert err["details"].get("attempts") == 3, err
        assert [m["type"] for m in msgs].count("error") == 1
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "broken"}), "s")
        assert snap["status"] == "failed" and snap["attempts"] == 3, snap


async def test_fault_injection_fields_ignored_without_flag(server):
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "f", "delay", {"duration_ms": 10, "fail_attempts": 5})
        if msg["type"] == "error":
            assert_error(msg, "VALIDATION_ERROR", "f")
            return
        assert_queued(msg, "f")
        _, end = await until_terminal(ws, "f", timeout=20)
        assert end["type"] == "result" and end["result"]["metadata"].get("attempts") == 1, end


# -- idempotent ids -------------------------------------------------------------------------------------

async def test_idempotent_resend_runs_once(server):
    tok = server.token("idem", "t-idem")
    async with connect(server.ws_url(tok)) as ws:
        payload = {"duration_ms": 1000, "steps": 10}
        assert_queued(await call(ws, "same", "delay", payload), "same")
        msgs0, _ = await recv_for(ws, "same", lambda m: m["type"] == "progress", timeout=10)
        # Resend while unfinished (even with a different payload): queued again, nothing new starts.
        await request(ws, "same", "delay", {"duration_ms": 5, "steps": 1})
        msgs1, again = await recv_for(ws, "same", lambda m: m["type"] == "response", timeout=10)
        assert_queued(again, "same", resend=True)
        msgs2, end = await until_terminal(ws, "same", timeout=20)
        everything = msgs0 + msgs1 + msgs2
        assert [m["type"] for m in everything].count("result") == 1
        assert_result(end, "same", {"slept_ms": 1000, "steps": 10})
        # progress never restarted (one execution)
        values = [m["progress"]["progress"] for m in everything if m["type"] == "progress"]
        assert all(a < b for a, b in zip(values, values[1:])), values
        # Resend after it finished: the stored result, not a new run.
        await request(ws, "same", "delay", payload)
        _, stored = await recv_for(ws, "same", lambda m: True, timeout=10)
        assert_result(stored, "same", {"slept_ms": 1000, "steps": 10})
        with pytest.raises(asyncio.TimeoutError):
            m = await recv(ws, 1.2)
            pytest.fail(f"a finished request produced more messages after a resend: {m}")
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "same"}), "s")
        assert snap["attempts"] == 1 and snap["status"] == "succeeded", snap
    # From another connection of the same user, too.
    async with connect(server.ws_url(server.token("idem", "t-idem"))) as ws2:
        await request(ws2, "same", "delay", payload)
        _, stored = await recv_for(ws2, "same", lambda m: True, timeout=10)
        assert_result(stored, "same", {"slept_ms": 1000, "steps": 10})


async def test_idempotent_resend_after_failure_returns_stored_error(start_server):
    s = start_server(FI)
    async with connect(s.ws_url(s.token())) as ws:
        await call(ws, "to", "delay", {"duration_ms": 5000, "time_limit_ms": 200})
        _, end = await until_terminal(ws, "to", timeout=20)
        assert_error(end, "TIMEOUT", "to")
        await request(ws, "to", "delay", {"duration_ms": 10})
        _, stored = await recv_for(ws, "to", lambda m: True, timeout=10)
        assert_error(stored, "TIMEOUT", "to")


# -- slow readers --------------------------------------------------------------------------------------------

async def test_slow_reader_memory_bounded_and_results_recovered(start_server):
    """Two raw clients with tiny receive buffers start 100 chatty delay jobs each and
    stop reading. The server's RSS must stay bounded; once reading resumes, every
    result arrives (or, after a 1013 close, a resubscribe recovers it)."""
    s = start_server("--workers", "32", "--max-concurrent-requests", "100",
                     "--max-messages-per-second", "1000", "--progress-interval-ms", "1")
    pid = s.proc.pid
    tok = s.token("slow", "t-slow")
    n_conns, per_conn = 2, 100
    blob = "x" * 200
    clients = [RawWs(s.port, f"/production?Authorization={tok}", rcvbuf=4096) for _ in range(n_conns)]
    ids = {c: [f"slow-{i}-{j}" for j in range(per_conn)] for i, c in enumerate(clients)}
    rss0 = rss_kb(pid)
    try:
        for c in clients:
            for rid in ids[c]:
                c.send_json({"id": rid, "action": "delay",
                             "payload": {"duration_ms": 600, "steps": 1000},
                             "metadata": {"trace_id": rid + blob}})
        # Nobody reads for a while; the jobs run and produce ~200k progress events.
        peak = rss0
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            peak = max(peak, rss_kb(pid))
            await asyncio.sleep(0.1)
        growth_mb = (peak - rss0) / 1024
        print(f"slow reader: RSS {rss0 / 1024:.1f} MB -> peak {peak / 1024:.1f} MB")
        assert growth_mb < 64, f"server RSS grew by {growth_mb:.1f} MB while clients did not read"

        # Resume reading: collect terminals, note a 1013 close.
        missing = set()
        for c in clients:
            want = set(ids[c])
            c.sock.settimeout(20)
            closed_1013 = False
            n_progress = 0
            last_progress: dict = {}
            try:
                while want:
                    kind, msg = await asyncio.to_thread(c.read_message)
                    if kind == "close":
                        assert msg == 1013, f"unexpected close {msg}"
                        closed_1013 = True
                        break
                    if kind == "text" and msg.get("type") == "progress":
                        n_progress += 1
                        prid, pval = msg["progress"]["request_id"], msg["progress"]["progress"]
                        assert prid in want, f"progress for {prid} after its result (or unknown id)"
                        assert pval > last_progress.get(prid, -1), f"progress of {prid} went back to {pval}"
                        last_progress[prid] = pval
                    if kind == "text" and msg.get("type") in ("result", "error"):
                        body = msg[msg["type"]]
                        assert msg["type"] == "result", msg
                        want.discard(body["request_id"])
            except EOFError:
                pytest.fail("connection dropped without a close frame")
            except ConnectionResetError:
                # The server resets only a writer stalled for --send-timeout (30 s); a
                # crash, or a close with unread input, resets too. Say which it was.
                notable = [line for line in s.log_text().splitlines() if '"level":"info"' not in line]
                pytest.fail(f"connection reset after {n_progress} progress messages; server "
                            f"alive: {s.proc.poll() is None}; its log: {notable[-8:]}")
            print(f"slow reader: {n_progress} progress messages, {per_conn - len(want)} results, "
                  f"1013: {closed_1013}")
            if want:
                assert closed_1013, f"{len(want)} results never arrived and no 1013 close"
            missing |= want
    finally:
        for c in clients:
            c.close()
    # Anything not delivered is recoverable with subscribe.
    if missing:
        async with connect(s.ws_url(tok), max_queue=None) as ws:
            for rid in sorted(missing):
                await request(ws, "sub-" + rid, "subscribe", {"request_id": rid})
            by_id = await collect_terminals(ws, sorted(missing), timeout=60)
            for rid, msgs in by_id.items():
                assert msgs[-1]["type"] == "result", msgs[-1]
    assert rss_kb(pid) - rss0 < 64 * 1024


def test_slow_reader_of_large_replies_is_closed_1013_and_memory_bounded(start_server):
    """A client that sends ~80 MB of echo requests and never reads must not make the
    server buffer ~80 MB of replies: the outgoing queue is bounded, replies are never
    dropped, so the connection is closed with 1013 (or the server stops reading from
    it). Async requests sent before the flood are recoverable with subscribe."""
    s = start_server("--max-messages-per-second", "1000", "--workers", "4")
    pid = s.proc.pid
    tok = s.token("flood", "t-flood")
    rss0 = rss_kb(pid)
    raw = RawWs(s.port, f"/production?Authorization={tok}", rcvbuf=4096)
    blob = "y" * 250_000
    n_sent, peak = 0, rss0
    try:
        for j in range(3):
            raw.send_json({"id": f"job-{j}", "action": "delay", "payload": {"duration_ms": 300}})
        raw.sock.settimeout(3)
        try:
            for i in range(320):
                raw.send_json({"id": f"e{i}", "action": "echo", "payload": {"blob": blob}})
                n_sent += 1
                if i % 20 == 0:
                    peak = max(peak, rss_kb(pid))
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading (back-pressure) or closed us: both bounded
        t_end = time.monotonic() + 2
        while time.monotonic() < t_end:
            peak = max(peak, rss_kb(pid))
            time.sleep(0.1)
        growth_mb = (peak - rss0) / 1024
        print(f"flood: sent {n_sent} x 250 KB, RSS {rss0 / 1024:.1f} -> {peak / 1024:.1f} MB")
        assert growth_mb < 48, f"server RSS grew by {growth_mb:.0f} MB for a client that does not read"
        # Now read what was delivered: complete replies, in order, then a 1013 close.
        raw.sock.settimeout(10)
        replies, close_code = [], None
        try:
            while True:
                kind, msg = raw.read_message()
                if kind == "close":
                    close_code = msg
                    break
                if kind == "text" and msg.get("type") == "response" and msg["response"]["request_id"].startswith("e"):
                    assert msg["response"]["data"]["blob"] == blob
                    replies.append(msg["response"]["request_id"])
        except (EOFError, ConnectionResetError):
            pass
        except socket.timeout:
            pass  # back-pressure without a close: everything sent was answered below
        print(f"flood: {len(replies)} replies read, close code {close_code}")
        # Sync requests run concurrently (up to the 10-request limit), so their replies
        # may overtake each other; none may be duplicated or invented.
        assert len(set(replies)) == len(replies), "duplicate replies"
        assert set(replies) <= {f"e{i}" for i in range(n_sent)}, "replies to requests never sent"
        if close_code is None:
            assert len(replies) == n_sent, f"{n_sent} sent, {len(replies)} answered, no 1013 close"
        else:
            assert close_code == 1013, close_code
    finally:
        raw.close()
    assert s.proc.poll() is None, "server died"

    async def recover():
        async with connect(s.ws_url(tok)) as ws:
            for j in range(3):
                await request(ws, f"s{j}", "subscribe", {"request_id": f"job-{j}"})
            return await collect_terminals(ws, [f"job-{j}" for j in range(3)], timeout=30)

    by_id = asyncio.run(recover())
    for rid, msgs in by_id.items():
        assert msgs[-1]["type"] == "result" and msgs[-1]["result"]["data"] == {"slept_ms": 300, "steps": 1}


# -- races and cross-connection behaviour ----------------------------------------------------------

async def test_same_new_id_sent_concurrently_from_two_connections_runs_once(server):
    tok = server.token("racer", "t-race")
    async with connect(server.ws_url(tok)) as a, connect(server.ws_url(tok)) as b:
        payload = {"duration_ms": 300, "steps": 3}
        await asyncio.gather(request(a, "race", "delay", payload), request(b, "race", "delay", payload))
        (ma, ra), (mb, rb) = await asyncio.gather(until_terminal(a, "race"), until_terminal(b, "race"))
        answers = [ma[0], mb[0]]
        for m in answers:
            assert m["type"] == "response" and m["response"]["status"] == "queued", m
        fresh = [m for m in answers if m["response"]["message"] == "Request queued for processing"]
        assert len(fresh) == 1, f"both connections were told a new request was queued: {answers}"
        for last in (ra, rb):
            r = assert_result(last, "race", {"slept_ms": 300, "steps": 3})
            assert r["metadata"]["attempts"] == 1
        assert ra == rb


async def test_cancel_from_another_connection_of_the_same_user(server):
    tok = server.token("canceller", "t-cancel")
    async with connect(server.ws_url(tok)) as owner, connect(server.ws_url(tok)) as other:
        assert_queued(await call(owner, "job", "delay", {"duration_ms": 10000, "steps": 100}), "job")
        await recv_for(owner, "job", lambda m: m["type"] == "progress", timeout=10)
        resp = await call(other, "c", "cancel", {"request_id": "job"})
        assert assert_success(resp, "c") == {"request_id": "job", "status": "cancelling"}
        _, end = await until_terminal(owner, "job", timeout=5)
        assert_error(end, "CANCELLED", "job")


async def test_job_outlives_connection_closed_by_token_expiry(server):
    """The token expires (4401) while a job runs; a reconnect with a fresh token and
    subscribe delivers the result."""
    async with connect(server.ws_url(server.token("exp-user", "t-exp", ttl=2))) as ws:
        assert_queued(await call(ws, "outlive", "delay", {"duration_ms": 3500, "steps": 7}), "outlive")
        msgs, code, _ = await expect_close(ws, timeout=8)
    assert code == 4401
    assert not any(m["type"] == "result" for m in msgs)
    async with connect(server.ws_url(server.token("exp-user", "t-exp"))) as ws:
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "outlive"}), "s")
        assert snap["status"] in ("running", "succeeded"), snap
        _, last = await until_terminal(ws, "outlive", timeout=15)
        assert_result(last, "outlive", {"slept_ms": 3500, "steps": 7})


REPORT = {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "csv", "report_type": "monthly"}
PROCESS = {"pipeline": "classification", "data_source": {"type": "file", "path": "/data/input.csv"},
           "output": {"format": "json"}}


@pytest.mark.parametrize("action,payload,estimate", [("generate_report", REPORT, 120),
                                                     ("process_data", PROCESS, 300)])
async def test_seed_handlers_queue_with_their_estimated_duration(start_server, action, payload, estimate):
    # One worker kept busy (until cancelled below: a fixed duration races a loaded
    # machine), so the request stays queued while we look at it: with
    # --max-waiting-jobs 0 the delay holds the worker thread.
    s = start_server("--workers", "1", "--max-waiting-jobs", "0")
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "busy", "delay", {"duration_ms": 120000}), "busy")
        q = assert_queued(await call(ws, "seed", action, payload), "seed")
        assert q["estimated_duration"] == estimate, q
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": "seed"}), "s")
        assert snap["status"] == "queued" and snap["attempts"] == 0 and snap["progress"] is None, snap
        assert snap["action"] == action
        resp = await call(ws, "c", "cancel", {"request_id": "seed"})
        assert assert_success(resp, "c") == {"request_id": "seed", "status": "cancelled"}
        _, end = await until_terminal(ws, "seed", timeout=5)
        assert_error(end, "CANCELLED", "seed")
        # A cancelled queued request never runs, even once the worker is free again.
        assert_success(await call(ws, "cb", "cancel", {"request_id": "busy"}), "cb")
        await until_terminal(ws, "busy", timeout=10)
        await asyncio.sleep(0.3)
        snap = assert_success(await call(ws, "s2", "subscribe", {"request_id": "seed"}), "s2")
        assert snap["status"] == "cancelled" and snap["attempts"] == 0, snap



@pytest.mark.parametrize("interval_ms,max_msgs", [(None, 15), ("10", 120)], ids=["default-100ms", "10ms"])
async def test_progress_is_coalesced_per_interval(start_server, interval_ms, max_msgs):
    s = start_server(*(("--progress-interval-ms", interval_ms) if interval_ms else ()))
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "many", "delay", {"duration_ms": 1000, "steps": 1000}), "many")
        msgs, last = await until_terminal(ws, "many", timeout=20)
    values = assert_progress_sequence(msgs[:-1], "many")
    assert_result(last, "many", {"slept_ms": 1000, "steps": 1000})
    assert 3 <= len(values) <= max_msgs, f"{len(values)} progress messages for 1000 steps in 1 s"



async def test_resend_from_another_connection_subscribes_it(server):
    tok = server.token("resender", "t-resend")
    async with connect(server.ws_url(tok)) as a, connect(server.ws_url(tok)) as b:
        assert_queued(await call(a, "shared-id", "delay", {"duration_ms": 800, "steps": 4}), "shared-id")
        assert_queued(await call(b, "shared-id", "delay", {"duration_ms": 800, "steps": 4}), "shared-id",
                      resend=True)
        (_, la), (mb, lb) = await asyncio.gather(until_terminal(a, "shared-id"), until_terminal(b, "shared-id"))
        assert la == lb
        assert_result(lb, "shared-id", {"slept_ms": 800, "steps": 4})


async def test_repeated_subscribe_does_not_duplicate_delivery(server):
    async with connect(server.ws_url(server.token())) as ws:
        assert_queued(await call(ws, "dup", "delay", {"duration_ms": 600, "steps": 3}), "dup")
        assert_success(await call(ws, "s1", "subscribe", {"request_id": "dup"}), "s1")
        assert_success(await call(ws, "s2", "subscribe", {"request_id": "dup"}), "s2")
        msgs, last = await until_terminal(ws, "dup")
        assert_result(last, "dup", {"slept_ms": 600, "steps": 3})
        values = [m["progress"]["progress"] for m in msgs if m["type"] == "progress"]
        assert len(values) == len(set(values)), f"progress delivered twice: {values}"
        with pytest.raises(asyncio.TimeoutError):
            while True:
                m = await recv(ws, 0.7)
                assert request_id_of(m) != "dup", f"delivered twice: {m}"



async def test_cancel_while_waiting_for_a_retry(start_server):
    s = start_server(FI, "--retry-base-ms", "5000")
    async with connect(s.ws_url(s.token())) as ws:
        assert_queued(await call(ws, "wait-retry", "delay", {"duration_ms": 10, "fail_attempts": 1}), "wait-retry")
        snap = await snapshot_when_waiting_for_retry(ws, "wait-retry")
        assert snap["status"] == "queued", snap
        t0 = time.monotonic()
        resp = await call(ws, "c", "cancel", {"request_id": "wait-retry"})
        assert assert_success(resp, "c") == {"request_id": "wait-retry", "status": "cancelled"}
        msgs, end = await until_terminal(ws, "wait-retry", timeout=5)
        assert_error(end, "CANCELLED", "wait-retry")
        assert time.monotonic() - t0 < 1.5
        assert not any(m["type"] == "error" and m["error"]["code"] != "CANCELLED" for m in msgs), msgs
