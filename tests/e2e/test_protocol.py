"""Message shapes and protocol errors (docs/protocol.md "Messages sent by the server"),
field by field, against the real binary."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest

from helpers_e2e import (assert_error, assert_success, call, claims, connect, is_number,
                         jwt_encode, parse_iso_z, recv, request, send, spin_supported)


async def test_health_response_shape(server):
    async with connect(server.ws_url(server.token())) as ws:
        before = dt.datetime.now(dt.timezone.utc)
        await send(ws, {"id": "1", "action": "health"})
        msg = await recv(ws)
        after = dt.datetime.now(dt.timezone.utc)
    assert set(msg) == {"type", "response"}, msg
    assert msg["type"] == "response"
    r = msg["response"]
    assert set(r) == {"request_id", "status", "data", "metadata"}, r
    assert r["request_id"] == "1"
    assert r["status"] == "success"
    data = r["data"]
    assert set(data) >= {"status", "timestamp", "version"}, data
    assert data["status"] == "healthy"
    ts = parse_iso_z(data["timestamp"])
    assert before - dt.timedelta(seconds=2) <= ts <= after + dt.timedelta(seconds=2), (ts, before)
    assert isinstance(data["version"], str) and data["version"], data
    assert set(r["metadata"]) >= {"processing_time"}, r
    pt = r["metadata"]["processing_time"]
    assert is_number(pt) and 0 <= pt < 1.0, pt


async def test_health_with_payload_and_metadata(server):
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "h-2", "health", {}, {"client_version": "1.0.0", "trace_id": "t-h2"})
        assert assert_success(msg, "h-2")["status"] == "healthy"


async def test_echo_returns_payload_as_data(server):
    payload = {"a": 1, "b": [1, 2.5, "x", None, True], "nested": {"k": "välue ✓"}, "empty": {}}
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "e1", "echo", payload)
    assert msg["type"] == "response"
    r = msg["response"]
    assert set(r) == {"request_id", "status", "data", "metadata"}, r
    assert r["request_id"] == "e1" and r["status"] == "success"
    assert r["data"] == payload
    assert is_number(r["metadata"]["processing_time"])


async def test_echo_without_payload_returns_empty_object(server):
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "e0", "echo")
    assert assert_success(msg, "e0") == {}


async def test_numeric_id_is_answered_as_decimal_string(server):
    async with connect(server.ws_url(server.token())) as ws:
        await send(ws, {"id": 42, "action": "health"})
        msg = await recv(ws)
    assert msg["type"] == "response", msg
    assert msg["response"]["request_id"] == "42"


async def test_many_requests_on_one_connection_each_answered_once(server):
    async with connect(server.ws_url(server.token())) as ws:
        for i in range(5):
            await request(ws, f"m{i}", "echo", {"i": i})
        got = [await recv(ws) for _ in range(5)]
    assert sorted(m["response"]["request_id"] for m in got) == [f"m{i}" for i in range(5)]
    for m in got:
        assert m["response"]["data"] == {"i": int(m["response"]["request_id"][1:])}


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2, 3]", '"a string"', "42", "null", "true"],
                         ids=["malformed", "empty", "array", "string", "number", "null", "bool"])
async def test_unreadable_message_is_validation_error_with_null_id(server, raw):
    async with connect(server.ws_url(server.token())) as ws:
        await ws.send(raw)
        msg = await recv(ws)
        assert set(msg) == {"type", "error"}, msg
        assert_error(msg, "VALIDATION_ERROR", None, retryable=False)
        # The connection stays usable.
        assert assert_success(await call(ws, "after", "health"), "after")["status"] == "healthy"


@pytest.mark.parametrize("message,field", [
    ({"id": "v1"}, "action"),
    ({"id": "v1", "action": 5}, "action"),
    ({"id": "v1", "action": None}, "action"),
    ({"id": "v1", "action": ["health"]}, "action"),
    ({"id": "v1", "action": "echo", "payload": [1, 2]}, "payload"),
    ({"id": "v1", "action": "echo", "payload": "text"}, "payload"),
    ({"id": "v1", "action": "echo", "payload": 3}, "payload"),
], ids=["missing-action", "int-action", "null-action", "list-action", "list-payload",
        "string-payload", "number-payload"])
async def test_invalid_fields_are_validation_errors_with_details(server, message, field):
    async with connect(server.ws_url(server.token())) as ws:
        await send(ws, message)
        msg = await recv(ws)
        err = assert_error(msg, "VALIDATION_ERROR", "v1", retryable=False)
        assert err["details"].get("field") == field, err
        # Every VALIDATION_ERROR names the field, what was expected and what was received.
        assert {"field", "expected", "received"} <= set(err["details"]), err
        assert assert_success(await call(ws, "ok", "health"), "ok")["status"] == "healthy"


async def test_missing_id_is_validation_error_with_null_request_id(server):
    async with connect(server.ws_url(server.token())) as ws:
        await send(ws, {"action": "health"})
        err = assert_error(await recv(ws), "VALIDATION_ERROR", None, retryable=False)
        assert err["details"].get("field") == "id", err


async def test_unknown_action_is_invalid_action(server):
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "u1", "no_such_handler", {})
        err = assert_error(msg, "INVALID_ACTION", "u1", retryable=False)
        assert "no_such_handler" in json.dumps(err), err
        assert assert_success(await call(ws, "u2", "health"), "u2")["status"] == "healthy"


REPORT = {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "csv",
          "report_type": "monthly"}
PROCESS = {"pipeline": "classification", "data_source": {"type": "file", "path": "/data/input.csv"},
           "output": {"format": "json"}}


@pytest.mark.parametrize("perms,action,payload", [
    ((), "generate_report", REPORT),
    (("write",), "generate_report", REPORT),
    ((), "process_data", PROCESS),
    (("read",), "process_data", PROCESS),
], ids=["none-report", "write-only-report", "none-process", "read-only-process"])
async def test_missing_permission_is_unauthorized_and_connection_stays_open(server, perms, action, payload):
    tok = jwt_encode(claims("perm-user", "tenant-1", permissions=perms))
    async with connect(server.ws_url(tok)) as ws:
        msg = await call(ws, "p1", action, payload)
        assert_error(msg, "UNAUTHORIZED", "p1", retryable=False)
        # health needs no permission; the connection is still open and usable.
        assert assert_success(await call(ws, "p2", "health"), "p2")["status"] == "healthy"
        assert ws.close_code is None


async def test_token_without_permissions_claim_can_call_health(server):
    tok = jwt_encode(claims("noperm", "tenant-1", permissions=None))
    async with connect(server.ws_url(tok)) as ws:
        assert assert_success(await call(ws, "h", "health"), "h")["status"] == "healthy"
        assert_error(await call(ws, "r", "generate_report", REPORT), "UNAUTHORIZED", "r")


async def test_trace_id_is_logged_and_token_is_not(server):
    tok = server.token("log-user", "tenant-log")
    bad = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
    async with connect(server.ws_url(tok)) as ws:
        await call(ws, "t1", "health", {}, {"trace_id": "trace-7f3a9c-e2e"})
        await call(ws, "t2", "no_such_action", {}, {"trace_id": "trace-unknown-action-e2e"})
    async with connect(server.ws_url(bad)) as ws:
        try:
            await recv(ws, 5)
        except Exception:
            pass
    log = server.log_text()
    assert "trace-7f3a9c-e2e" in log
    assert "trace-unknown-action-e2e" in log
    for t in (tok, bad):
        head, body, sig = t.split(".")
        assert t not in log
        assert sig not in log, "a token signature appears in the log"
        assert body not in log, "a token's claims segment appears in the log"


async def test_sync_handler_time_limit_gives_timeout(start_server):
    s = start_server("--enable-fault-injection")
    async with connect(s.ws_url(s.token())) as ws:
        if not await spin_supported(ws):
            pytest.xfail("echo has no spin_ms busy work under --enable-fault-injection")
        t0 = time.monotonic()
        # echo's own time limit is 2 s (sync handlers do not honour time_limit_ms).
        msg = await call(ws, "spin", "echo", {"spin_ms": 6000}, timeout=10)
        elapsed = time.monotonic() - t0
        assert_error(msg, "TIMEOUT", "spin", retryable=True)
        assert 1.5 <= elapsed < 3.5, f"TIMEOUT came after {elapsed:.1f}s for echo's 2 s limit"
        # The connection and the I/O threads stay responsive meanwhile.
        assert assert_success(await call(ws, "h", "health", timeout=3), "h")["status"] == "healthy"


async def test_sync_work_does_not_block_other_connections(start_server):
    s = start_server("--enable-fault-injection")
    async with connect(s.ws_url(s.token())) as a, connect(s.ws_url(s.token())) as b:
        if not await spin_supported(a):
            pytest.xfail("echo has no spin_ms busy work under --enable-fault-injection")
        await request(a, "busy", "echo", {"spin_ms": 1500})
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        assert_success(await call(b, "h", "health", timeout=5), "h")
        assert time.monotonic() - t0 < 1.0, "health on another connection waited for busy sync work"


async def test_custom_stage_path(start_server):
    s = start_server("--stage", "staging")
    async with connect(s.ws_url(s.token(), stage="staging")) as ws:
        assert assert_success(await call(ws, "1", "health"), "1")["status"] == "healthy"
    # The default stage is not served by this server.
    with pytest.raises(Exception):
        async with connect(s.ws_url(s.token(), stage="production")) as ws:
            await call(ws, "2", "health", timeout=3)


def test_health_version_is_the_build_version(server):
    import subprocess
    from conftest import BINARY
    out = subprocess.check_output([str(BINARY), "--version"], text=True).strip()

    async def get():
        async with connect(server.ws_url(server.token())) as ws:
            return assert_success(await call(ws, "v", "health"), "v")["version"]

    version = asyncio.run(get())
    assert version and version in out, (version, out)


async def test_fragmented_message_is_reassembled_and_size_limited(start_server):
    from helpers_e2e import RawWs
    s = start_server("--max-message-bytes", "1000")
    raw = RawWs(s.port, f"/production?Authorization={s.token()}")
    try:
        text = json.dumps({"id": "frag", "action": "echo", "payload": {"blob": "z" * 300}}).encode()
        raw.send_frame_raw(False, 0x1, text[:100])
        raw.send_frame_raw(False, 0x0, text[100:200])
        raw.send_frame_raw(True, 0x0, text[200:])
        kind, msg = raw.read_message()
        assert kind == "text" and msg["response"]["data"] == {"blob": "z" * 300}, msg
        # three fragments of 600 bytes: the message (1800) is over the limit
        big = json.dumps({"id": "big", "action": "echo", "payload": {"blob": "z" * 1750}}).encode()
        raw.send_frame_raw(False, 0x1, big[:600])
        raw.send_frame_raw(False, 0x0, big[600:1200])
        try:
            raw.send_frame_raw(True, 0x0, big[1200:])
        except OSError:
            pass
        kind, code = raw.read_message()
        assert (kind, code) == ("close", 1009)
    finally:
        raw.close()


@pytest.mark.parametrize("level", ["debug", "trace"])
async def test_token_never_logged_even_at_verbose_levels(start_server, level):
    s = start_server("--log-level", level)
    tok = s.token("verbose-user", "tenant-v")
    hdr_tok = s.token("verbose-user-2", "tenant-v")
    async with connect(s.ws_url(tok)) as ws:
        await call(ws, "1", "health", {}, {"trace_id": "verbose-trace"})
        await call(ws, "2", "delay", {"duration_ms": 10})
    async with connect(s.ws_url(None), additional_headers={"Authorization": f"Bearer {hdr_tok}"}) as ws:
        await call(ws, "3", "health")
    expired = jwt_encode(claims(exp=int(time.time()) - 5))
    async with connect(s.ws_url(expired)) as ws:
        try:
            await recv(ws, 5)
        except Exception:
            pass
    s.terminate()
    log = s.log_path.read_text(errors="replace")
    assert "verbose-trace" in log
    for t in (tok, hdr_tok, expired):
        assert t.split(".")[2] not in log, "a token signature appears in the log"
        assert t.split(".")[1] not in log, "a token's claims appear in the log"


async def test_many_connections_get_their_own_replies(server):
    """50 connections x 10 pipelined echoes concurrently: every reply reaches the connection
    that asked, with its own payload (no cross-talk between sessions)."""
    async def client(i):
        tok = jwt_encode(claims(f"user-{i % 5}", f"tenant-{i % 3}"))
        async with connect(server.ws_url(tok)) as ws:
            for j in range(10):
                await request(ws, f"{i}-{j}", "echo", {"conn": i, "n": j})
            got = {}
            for _ in range(10):
                m = await recv(ws, 20)
                assert m["type"] == "response", m
                r = m["response"]
                got[r["request_id"]] = r["data"]
            assert got == {f"{i}-{j}": {"conn": i, "n": j} for j in range(10)}

    await asyncio.gather(*(client(i) for i in range(50)))
