"""StreamerWorker against a fake worker endpoint: registration, jobs, progress,
outcomes, cancellation, reconnects, token refresh, graceful shutdown, the CLI."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pysdk_fake_workers import FakeWorkerServer
from streamer_client import Job, JobError, RegistrationError, StreamerError, StreamerWorker
from streamer_client.worker import worker_url

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
async def fake():
    server = FakeWorkerServer(heartbeat_ms=100)
    await server.start()
    yield server
    await server.stop()


async def start(worker: StreamerWorker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run(handle_signals=False))


async def stop(worker: StreamerWorker, task: asyncio.Task[None]) -> None:
    worker.shutdown()
    await asyncio.wait_for(task, 10)


def test_worker_url():
    assert worker_url("ws://h:1/production") == "ws://h:1/production/workers"
    assert worker_url("ws://h:1/production/") == "ws://h:1/production/workers"
    assert worker_url("wss://h/production/workers") == "wss://h/production/workers"


def test_handler_spec_is_checked_when_declared():
    w = StreamerWorker("ws://x/production", token="t")
    with pytest.raises(ValueError, match="permission"):
        w.handler("a", permission="root")(lambda job: None)
    with pytest.raises(ValueError, match="max_attempts"):
        w.handler("a", max_attempts=0)(lambda job: None)
    with pytest.raises(ValueError, match="concurrency"):
        w.handler("a", concurrency=0)(lambda job: None)
    w.handler("a")(lambda job: None)
    with pytest.raises(ValueError, match="already"):
        w.handler("a")(lambda job: None)
    with pytest.raises(ValueError):
        StreamerWorker("ws://x", token="t", get_token=lambda: "t")


async def test_registers_each_action_on_its_own_connection_with_its_spec(fake):
    w = StreamerWorker(fake.url, token="wtok", concurrency=2)
    schema = {"type": "object", "required": ["urls"], "properties": {"urls": {"type": "array"}}}

    @w.handler("resize", schema=schema, estimated_duration=5000, permission="write", time_limit=9000,
               max_attempts=4, concurrency=3)
    async def resize(job: Job) -> dict:
        return {}

    @w.handler("other")
    async def other(job: Job) -> dict:
        return {}

    task = await start(w)
    conns = [await fake.next_conn(), await fake.next_conn()]
    by_action = {c.register["actions"][0]["name"]: c for c in conns}
    assert set(by_action) == {"resize", "other"}
    r = by_action["resize"]
    assert r.path == "/production/workers" and r.token == "wtok"
    assert r.register == {"type": "register", "concurrency": 3, "actions": [{
        "name": "resize", "estimated_duration": 5000, "permission": "write", "time_limit": 9000,
        "max_attempts": 4, "schema": schema}]}
    assert by_action["other"].register["concurrency"] == 2  # the worker's default
    await stop(w, task)


async def test_job_progress_and_result(fake):
    w = StreamerWorker(fake.url, token="wtok", progress_interval=0)
    seen: list[Job] = []

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        seen.append(job)
        await job.report_progress(50, "half", {"done": 1})
        return {"n": len(job.payload["urls"])}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1", {"urls": ["a", "b"]}, fence=7, attempt=2)
    progress = await conn.recv("progress")
    assert progress == {"type": "progress", "job_id": "j1", "fence": 7, "percent": 50, "message": "half",
                        "metadata": {"done": 1}}
    assert await conn.recv("complete") == {"type": "complete", "job_id": "j1", "fence": 7, "data": {"n": 2}}
    job = seen[0]
    assert (job.request_id, job.attempt, job.action, job.trace_id) == ("req-j1", 2, "resize", "trace-1")
    assert job.identity == {"user_id": "u1", "tenant_id": "t1", "permissions": ["write"]}
    await stop(w, task)


async def test_errors_become_fail_frames(fake):
    w = StreamerWorker(fake.url, token="wtok", concurrency=3)

    @w.handler("resize")
    async def resize(job: Job) -> object:
        kind = job.payload["kind"]
        if kind == "job_error":
            raise JobError("VALIDATION_ERROR", "no such image", {"field": "urls.0"})
        if kind == "bug":
            raise KeyError("boom")
        return "not a dict"

    task = await start(w)
    conn = await fake.next_conn()
    for kind in ("job_error", "bug", "bad_return"):
        await conn.push_job(kind, {"kind": kind})
    fails = {f["job_id"]: f["error"] for f in [await conn.recv("fail") for _ in range(3)]}
    assert fails["job_error"] == {"code": "VALIDATION_ERROR", "message": "no such image",
                                  "details": {"field": "urls.0"}, "retryable": False}
    assert fails["bug"]["code"] == "INTERNAL_ERROR" and fails["bug"]["retryable"] is True
    assert "KeyError" in fails["bug"]["message"]
    assert fails["bad_return"]["code"] == "INTERNAL_ERROR" and fails["bad_return"]["retryable"] is False
    await stop(w, task)


async def test_cancel_cancels_the_handler_task_at_once_and_nothing_more_is_reported(fake):
    w = StreamerWorker(fake.url, token="wtok")
    started = asyncio.Event()
    cancelled = asyncio.Event()
    event_was_set: list[bool] = []

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            event_was_set.append(job.cancelled.is_set() and job.cancel_reason == "timeout")
            cancelled.set()
            raise
        return {}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1")
    await asyncio.wait_for(started.wait(), 5)
    sent_at = time.monotonic()
    await conn.cancel("j1", reason="timeout")
    await asyncio.wait_for(cancelled.wait(), 1)
    assert time.monotonic() - sent_at < 0.25
    assert event_was_set == [True]
    await asyncio.sleep(0.05)
    assert w.in_flight == 0
    assert conn.received("fail") == [] and conn.received("complete") == []
    await stop(w, task)


async def test_a_handler_that_swallows_the_cancel_reports_nothing(fake):
    w = StreamerWorker(fake.url, token="wtok")
    started = asyncio.Event()

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass
        return {"ignored": True}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1")
    await asyncio.wait_for(started.wait(), 5)
    await conn.cancel("j1")
    await asyncio.sleep(0.1)
    assert conn.received("complete") == [] and w.in_flight == 0
    await stop(w, task)


async def test_progress_is_coalesced_and_the_latest_value_wins(fake):
    w = StreamerWorker(fake.url, token="wtok", progress_interval=0.2)
    release = asyncio.Event()

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        for i in range(1, 101):
            await job.report_progress(i, f"step {i}")
        await release.wait()
        return {}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1")
    first = await conn.recv("progress")
    second = await conn.recv("progress", timeout=2)
    assert (first["percent"], second["percent"]) == (1, 100)
    assert second["message"] == "step 100"
    release.set()
    await conn.recv("complete")
    assert len(conn.received("progress")) == 2
    await stop(w, task)


async def test_heartbeats_follow_the_servers_interval(fake):
    w = StreamerWorker(fake.url, token="wtok")
    w.handler("resize")(lambda job: None)
    task = await start(w)
    conn = await fake.next_conn()
    await asyncio.sleep(0.55)  # heartbeat_ms=100 in the fake
    assert 3 <= len(conn.received("heartbeat")) <= 7
    await stop(w, task)


async def test_reconnects_reregisters_and_delivers_the_outcome_of_a_job_that_outlived_its_connection(fake):
    w = StreamerWorker(fake.url, token="wtok", reconnect_base_delay=0.05)
    release = asyncio.Event()

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        await release.wait()
        return {"ok": True}

    task = await start(w)
    first = await fake.next_conn()
    await first.push_job("j1", fence=3)
    await asyncio.sleep(0.05)
    await first.close(1012, "restart")
    second = await fake.next_conn()
    assert second.register == first.register
    release.set()
    assert await second.recv("complete") == {"type": "complete", "job_id": "j1", "fence": 3, "data": {"ok": True}}
    await stop(w, task)


async def test_unacked_outcomes_are_resent_after_reconnect(fake):
    fake.auto_ack = False
    w = StreamerWorker(fake.url, token="wtok", reconnect_base_delay=0.05)
    w.handler("resize")(_returns({"v": 1}))
    task = await start(w)
    first = await fake.next_conn()
    await first.push_job("j1")
    await first.recv("complete")
    await first.close(1012)
    second = await fake.next_conn()
    assert (await second.recv("complete"))["job_id"] == "j1"
    await second.send({"type": "ack", "job_id": "j1"})
    await stop(w, task)


async def test_outcomes_are_sent_again_after_a_rate_limited_error(fake):
    fake.auto_ack = False
    w = StreamerWorker(fake.url, token="wtok")
    w.handler("resize")(_returns({"v": 1}))
    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1")
    await conn.recv("complete")
    await conn.send({"type": "error", "error": {"request_id": None, "code": "RATE_LIMITED", "message": "slow down",
                                                "details": {"retry_after_ms": 30, "retryable": True}}})
    again = await conn.recv("complete", timeout=2)
    assert again["job_id"] == "j1"
    await conn.send({"type": "ack", "job_id": "j1"})
    await stop(w, task)


async def test_stale_answer_stops_the_handler_and_nothing_more_is_sent(fake):
    w = StreamerWorker(fake.url, token="wtok", progress_interval=0)
    stopped = asyncio.Event()

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        await job.report_progress(10)
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()
        return {}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1", fence=2)
    await conn.recv("progress")
    await conn.send({"type": "stale", "job_id": "j1", "fence": 2})
    await asyncio.wait_for(stopped.wait(), 2)
    await asyncio.sleep(0.1)
    assert conn.received("fail") == [] and conn.received("complete") == []
    assert w.in_flight == 0
    await stop(w, task)


async def test_refused_registration_is_fatal(fake):
    w = StreamerWorker(fake.url, token="wtok")
    w.handler("not_allowed")(_returns({}))
    with pytest.raises(RegistrationError) as ei:
        await asyncio.wait_for(w.run(handle_signals=False), 5)
    assert ei.value.code == "UNAUTHORIZED"

    fake.refuse_register = {"code": "VALIDATION_ERROR", "message": "bad schema",
                            "details": {"field": "schema.type", "expected": "a type", "received": "x"}}
    w2 = StreamerWorker(fake.url, token="wtok")
    w2.handler("resize")(_returns({}))
    with pytest.raises(RegistrationError) as ei:
        await asyncio.wait_for(w2.run(handle_signals=False), 5)
    assert ei.value.code == "VALIDATION_ERROR" and ei.value.details["field"] == "schema.type"


async def test_rejected_token_is_fatal_without_get_token_and_refreshed_with_it(fake):
    w = StreamerWorker(fake.url, token="bad")
    w.handler("resize")(_returns({}))
    with pytest.raises(StreamerError) as ei:
        await asyncio.wait_for(w.run(handle_signals=False), 5)
    assert ei.value.code == "UNAUTHORIZED" and ei.value.close_code == 4401

    tokens = iter(["bad", "wtok"])
    w2 = StreamerWorker(fake.url, get_token=lambda: next(tokens))
    w2.handler("resize")(_returns({}))
    task = await start(w2)
    conn = await fake.next_conn()
    assert conn.token == "wtok"
    await stop(w2, task)


async def test_a_url_without_a_worker_endpoint_is_fatal(fake):
    w = StreamerWorker(fake.url.replace("/production", "/staging"), token="wtok")
    w.handler("resize")(_returns({}))
    with pytest.raises(StreamerError) as ei:
        await asyncio.wait_for(w.run(handle_signals=False), 5)
    assert ei.value.code == "CONNECTION_FAILED" and ei.value.details["http_status"] == 404


async def test_keeps_reconnecting_while_the_server_is_down():
    server = FakeWorkerServer()
    await server.start()
    port = server.port
    await server.stop()
    w = StreamerWorker(f"ws://127.0.0.1:{port}/production", token="wtok",
                       reconnect_base_delay=0.05, reconnect_max_delay=0.2)
    w.handler("resize")(_returns({}))
    task = await start(w)
    await asyncio.sleep(0.6)  # several failed attempts
    assert not task.done()
    server.port = port
    await server.start()
    await server.next_conn(timeout=5)
    await stop(w, task)
    await server.stop()


async def test_graceful_shutdown_finishes_in_flight_jobs_and_refuses_new_ones(fake):
    w = StreamerWorker(fake.url, token="wtok", concurrency=2, shutdown_grace=5)
    release = asyncio.Event()

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        await release.wait()
        return {"done": job.job_id}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1")
    await asyncio.sleep(0.05)
    w.shutdown()
    await asyncio.sleep(0.05)
    assert not task.done()
    await conn.push_job("j2")  # arrives while draining
    refused = await conn.recv("fail")
    assert refused["job_id"] == "j2" and refused["error"]["retryable"] is True
    assert refused["error"]["details"] == {"reason": "worker_shutdown"}
    release.set()
    assert (await conn.recv("complete"))["data"] == {"done": "j1"}
    await asyncio.wait_for(task, 5)
    await asyncio.wait_for(conn.closed.wait(), 5)


async def test_shutdown_grace_expiry_abandons_jobs_without_reporting(fake):
    w = StreamerWorker(fake.url, token="wtok", shutdown_grace=0.2)
    cancelled = asyncio.Event()

    @w.handler("resize")
    async def resize(job: Job) -> dict:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    task = await start(w)
    conn = await fake.next_conn()
    await conn.push_job("j1")
    await asyncio.sleep(0.05)
    w.shutdown()
    await asyncio.wait_for(task, 5)
    assert cancelled.is_set()
    assert conn.received("fail") == [] and conn.received("complete") == []


async def test_cli_serves_a_module_worker_and_drains_on_sigterm(fake, tmp_path):
    (tmp_path / "cli_worker_mod.py").write_text(textwrap.dedent("""
        import asyncio
        from streamer_client import StreamerWorker
        worker = StreamerWorker()

        @worker.handler("resize")
        async def resize(job):
            await asyncio.sleep(job.payload["sleep"])
            return {"slept": job.payload["sleep"]}
    """))
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{tmp_path}", "STREAMER_WORKER_TOKEN": "wtok"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamer_client.worker", "cli_worker_mod:worker", "--url", fake.url,
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
    try:
        conn = await fake.next_conn(timeout=20)
        assert conn.token == "wtok"
        await conn.push_job("j1", {"sleep": 0.5})
        await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert (await conn.recv("complete"))["data"] == {"slept": 0.5}
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_cli_rejects_a_bad_target(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamer_client.worker", "no_such_module:worker", "--url", "ws://127.0.0.1:1/p",
        "--token", "t", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"cannot load" in err


def _returns(value: dict):
    async def handler(job: Job) -> dict:
        return value
    return handler
