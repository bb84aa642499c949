"""Log output: each request's outcome at info (sync successes sampled by a flag) with its identity, action, status
or code, durations, attempt and trace id (never the token or the payload), refused
connections with their reason, and an invalid --log-level refused at start."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import BINARY, SECRET, free_port
from helpers_e2e import assert_error, assert_success, call, collect_terminals, connect, expect_rejected, request


def log_events(server, event):
    out = []
    for line in server.log_text().splitlines():
        try:
            msg = json.loads(line)["msg"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(msg, dict) and msg.get("event") == event:
            out.append(msg)
    return out


def wait_for_events(server, event, n, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = log_events(server, event)
        if len(found) >= n:
            return found
        time.sleep(0.05)
    return log_events(server, event)


async def test_every_async_outcome_is_logged_at_info_with_trace_id_and_without_secrets(start_server):
    s = start_server("--enable-fault-injection")
    token = s.token(sub="alice", tenant="t-log")
    async with connect(s.ws_url(token)) as ws:
        await request(ws, "ok", "delay", {"duration_ms": 5, "secret_value": "p4yl0ad"},
                      metadata={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        await request(ws, "slow", "delay", {"duration_ms": 5000, "time_limit_ms": 100})
        await collect_terminals(ws, ["ok", "slow"], timeout=30)
    lines = {m["request_id"]: m for m in wait_for_events(s, "request_finished", 2)}
    ok, slow = lines["ok"], lines["slow"]
    assert ok["tenant"] == "t-log" and ok["user"] == "alice" and ok["action"] == "delay"
    assert ok["status"] == "succeeded" and ok["code"] is None and ok["attempt"] == 1
    assert ok["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ok["run_seconds"] >= 0 and ok["total_seconds"] >= ok["run_seconds"]
    assert slow["status"] == "failed" and slow["code"] == "TIMEOUT"
    text = s.log_text()
    assert token not in text and "p4yl0ad" not in text
    assert all('"level":"info"' in line for line in text.splitlines() if "request_finished" in line)


async def test_refused_connections_are_logged_with_their_reason(server):
    await expect_rejected(server.ws_url("not-a-jwt"))
    bad = server.token(secret="another-secret-entirely-32-bytes!")
    await expect_rejected(server.ws_url(bad))
    refused = wait_for_events(server, "connection_refused", 2)
    reasons = [m["reason"] for m in refused]
    assert "malformed" in reasons and "bad_signature" in reasons, reasons
    assert all(m["close_code"] == 4401 and m["remote"] == "127.0.0.1" for m in refused)
    assert bad not in server.log_text()


def test_an_invalid_log_level_is_refused_at_start(tmp_path):
    args = [str(BINARY), "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path),
            "--jwt-secret", SECRET]
    r = subprocess.run(args + ["--log-level", "verbose"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "log-level" in (r.stderr + r.stdout)
    env_run = subprocess.run(args, capture_output=True, text=True, timeout=20,
                             env={"STREAMER_LOG_LEVEL": "loud", "PATH": "/usr/bin:/bin"})
    assert env_run.returncode != 0
    assert "log-level" in (env_run.stderr + env_run.stdout).lower() or "loud" in env_run.stderr + env_run.stdout


async def test_sync_requests_are_logged_at_info_and_successes_can_be_sampled(start_server):
    s = start_server("--log-sync-success-every", "2")
    token = s.token(sub="carol", tenant="t-sync")
    async with connect(s.ws_url(token)) as ws:
        for i in range(4):
            assert_success(await call(ws, f"h{i}", "health", {}), f"h{i}")
        assert_error(await call(ws, "bad", "jobs.get", {"request_id": "nope"}), "NOT_FOUND", "bad")
    lines = wait_for_events(s, "request_finished", 3)
    by_id = {m["request_id"]: m for m in lines}
    # One success in two is logged; errors always are.
    assert set(by_id) == {"h0", "h2", "bad"}, sorted(by_id)
    h0, bad = by_id["h0"], by_id["bad"]
    assert h0["tenant"] == "t-sync" and h0["user"] == "carol" and h0["action"] == "health"
    assert h0["mode"] == "sync" and h0["status"] == "succeeded" and h0["code"] is None
    assert h0["duration_ms"] >= 0
    assert bad["status"] == "failed" and bad["code"] == "NOT_FOUND" and bad["action"] == "jobs.get"
    assert token not in s.log_text()


async def test_every_sync_success_is_logged_by_default(server):
    async with connect(server.ws_url(server.token())) as ws:
        for i in range(3):
            assert_success(await call(ws, f"e{i}", "echo", {"message": "hi"}), f"e{i}")
    ids = {m["request_id"] for m in wait_for_events(server, "request_finished", 3) if m.get("mode") == "sync"}
    assert {"e0", "e1", "e2"} <= ids



async def test_past_the_burst_lines_wait_for_the_windows_end_and_none_is_lost(start_server):
    # 16 writes per --log-flush-ms window are made at once; past them, lines are held and
    # written together when the window ends. With a 3 s window, 40 quick successes cannot
    # all be written at once (16 writes, or 32 if a window ends during the loop), and
    # every one of them is written once the window ends.
    s = start_server("--log-flush-ms", "3000")
    ids = [f"b{i}" for i in range(40)]
    async with connect(s.ws_url(s.token(sub="erin", tenant="t-burst"))) as ws:
        for rid in ids:
            assert_success(await call(ws, rid, "health", {}), rid)
        written_at_once = {m["request_id"] for m in log_events(s, "request_finished")}
        assert len(written_at_once & set(ids)) <= 32, len(written_at_once)
        lines = wait_for_events(s, "request_finished", len(ids), timeout=10)
    assert sorted(m["request_id"] for m in lines) == sorted(ids)


@pytest.mark.parametrize("buffer_bytes", ["65536", "0"])
async def test_a_commit_rounds_lines_are_each_whole_once_and_written_by_the_clean_exit(start_server, buffer_bytes):
    # Outcomes finished together share a commit round, whose request_finished lines are
    # held and written in one write (--log-buffer-bytes; 0: a write each): every line
    # still parses on its own, each outcome is logged once, and nothing is left
    # unwritten when the server stops.
    s = start_server("--log-buffer-bytes", buffer_bytes)
    ids = [f"x{i}" for i in range(8)]  # within one connection's in-flight bound
    async with connect(s.ws_url(s.token(sub="dave", tenant="t-batch"))) as ws:
        for rid in ids:
            await request(ws, rid, "delay", {"duration_ms": 0})
        results = await collect_terminals(ws, ids, timeout=30)
    assert all(msgs[-1]["type"] == "result" for msgs in results.values()), results
    assert s.terminate() == 0
    text = s.log_path.read_text(errors="replace")  # the server has exited
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]  # each parses
    finished = [l["msg"]["request_id"] for l in lines if l["msg"].get("event") == "request_finished"]
    assert sorted(finished) == sorted(ids)
    assert lines[-1]["msg"]["event"] == "stopped"
