"""Remote workers end to end: raw `websockets` clients connect to /{stage}/workers,
register actions, and serve jobs that ordinary clients submit on /{stage}."""
from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest
import websockets

from conftest import mint_token, recv_json, recv_until
from helpers_e2e import connect, get_metrics, metric, request, send
from redis_rig import ARTIFACT_SECRET, redis_server  # noqa: F401 (fixture)

RESIZE = {
    "name": "resize",
    "estimated_duration": 5000,
    "permission": "write",
    "time_limit": 60000,
    "max_attempts": 3,
    "schema": {"type": "object", "required": ["w"], "additionalProperties": False,
               "properties": {"w": {"type": "integer", "minimum": 1}}},
}


def worker_token(actions=("resize",), tenant="tenant-1", permissions=("worker",), sub="worker-1"):
    return mint_token(sub, tenant, permissions, extra_args=("--actions", ",".join(actions)))


def worker_url(server, token) -> str:
    return f"ws://127.0.0.1:{server.port}/production/workers?Authorization={token}"


async def open_worker(server, spec=RESIZE, concurrency=1, **token_kw):
    """A connected worker that registered `spec`; returns (ws, registered message)."""
    ws = await connect(worker_url(server, worker_token(**token_kw)))
    await send(ws, {"type": "register", "actions": [spec], "concurrency": concurrency})
    reg = await recv_json(ws)
    assert reg["type"] == "registered", reg
    return ws, reg


async def next_of(ws, kind, timeout=10.0):
    """The next message of type `kind` (others are skipped)."""
    _, msg = await recv_until(ws, lambda m: m["type"] == kind, timeout)
    return msg


async def nothing_arrives(ws, seconds):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def submit(client, rid, payload, action="resize"):
    await request(client, rid, action, payload)
    msg = await recv_json(client)
    return msg


def test_registered_action_runs_on_the_worker_and_the_client_sees_no_difference(server):
    async def main():
        worker, reg = await open_worker(server)
        assert reg["actions"] == ["resize"]
        assert reg["lease_ttl_ms"] > 0 and 0 < reg["heartbeat_ms"] < reg["lease_ttl_ms"]
        async with connect(server.ws_url(server.token())) as client:
            queued = await submit(client, "r1", {"w": 3})
            assert queued["response"]["status"] == "queued", queued
            assert queued["response"]["estimated_duration"] == 5
            job = await next_of(worker, "job")
            assert job["action"] == "resize" and job["request_id"] == "r1"
            assert job["payload"] == {"w": 3}
            assert job["identity"]["user_id"] == "user-1"
            assert job["identity"]["tenant_id"] == "tenant-1"
            assert job["attempt"] == 1 and job["time_limit_ms"] == 60000
            await send(worker, {"type": "progress", "job_id": job["job_id"], "fence": job["fence"],
                                "percent": 50, "message": "half", "metadata": {"current_step": "x"}})
            progress = await next_of(client, "progress")
            assert progress["progress"]["progress"] == 50
            assert progress["progress"]["message"] == "half"
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {"url": "s3://x"}})
            ack = await next_of(worker, "ack")
            assert ack["job_id"] == job["job_id"]
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["type"] == "result", result
            assert result["result"]["data"] == {"url": "s3://x"}
            assert result["result"]["metadata"]["handler"] == "resize"
        await worker.close()

    asyncio.run(main())


def test_payload_violating_the_schema_is_refused_before_queued_and_never_reaches_a_worker(server):
    async def main():
        worker, _ = await open_worker(server)
        async with connect(server.ws_url(server.token())) as client:
            err = await submit(client, "bad", {"w": "wide"})
            assert err["type"] == "error", err
            assert err["error"]["code"] == "VALIDATION_ERROR"
            d = err["error"]["details"]
            assert (d["field"], d["expected"], d["received"]) == ("w", "integer", "wide")
            err = await submit(client, "bad2", {"w": 2, "h": 1})
            assert err["error"]["details"]["field"] == "h"
            await nothing_arrives(worker, 0.7)
        await worker.close()

    asyncio.run(main())


def test_a_worker_never_holds_more_jobs_than_its_credits(server):
    async def main():
        worker, _ = await open_worker(server, concurrency=2)
        async with connect(server.ws_url(server.token())) as client:
            for i in range(5):
                assert (await submit(client, f"c{i}", {"w": i + 1}))["response"]["status"] == "queued"
            in_flight, done, most = [], 0, 0
            while done < 5:
                try:
                    msg = json.loads(await asyncio.wait_for(worker.recv(), 0.4))
                except asyncio.TimeoutError:
                    assert in_flight, "no job while fewer than 5 were done"
                    job = in_flight.pop(0)
                    await send(worker, {"type": "complete", "job_id": job["job_id"],
                                        "fence": job["fence"], "data": {}})
                    done += 1
                    continue
                if msg["type"] == "job":
                    in_flight.append(msg)
                    most = max(most, len(in_flight))
                    assert len(in_flight) <= 2
            assert most == 2
            results = set()
            while len(results) < 5:
                m = await recv_json(client)
                if m["type"] == "result":
                    results.add(m["result"]["request_id"])
        await worker.close()

    asyncio.run(main())


def test_credit_message_adds_room(server):
    async def main():
        worker, _ = await open_worker(server, concurrency=1)
        async with connect(server.ws_url(server.token())) as client:
            for i in range(2):
                await submit(client, f"k{i}", {"w": 1})
            await next_of(worker, "job")
            await nothing_arrives(worker, 0.5)
            await send(worker, {"type": "credit", "n": 1})
            await next_of(worker, "job", timeout=3)
        await worker.close()

    asyncio.run(main())


def test_two_workers_share_the_load_each_job_to_exactly_one(server):
    async def main():
        a, _ = await open_worker(server, sub="wa")
        b, _ = await open_worker(server, sub="wb")
        async with connect(server.ws_url(server.token())) as client:
            for i in range(6):
                await submit(client, f"s{i}", {"w": 1})
            seen = {"a": [], "b": []}

            async def serve(name, ws):
                while True:
                    try:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 1.5))
                    except asyncio.TimeoutError:
                        return
                    if msg["type"] == "job":
                        seen[name].append(msg["request_id"])
                        await asyncio.sleep(0.05)
                        await send(ws, {"type": "complete", "job_id": msg["job_id"],
                                        "fence": msg["fence"], "data": {"by": name}})

            await asyncio.gather(serve("a", a), serve("b", b))
            everything = seen["a"] + seen["b"]
            assert sorted(everything) == sorted(f"s{i}" for i in range(6)), seen
            assert seen["a"] and seen["b"], seen
        await a.close()
        await b.close()

    asyncio.run(main())


def test_killed_worker_job_is_retried_on_another_after_the_lease_ttl(start_server):
    server = start_server("--lease-ttl-ms", "1000", "--remote-poll-ms", "100")

    async def main():
        a, reg = await open_worker(server, sub="wa")
        assert reg["lease_ttl_ms"] == 1000
        async with connect(server.ws_url(server.token())) as client:
            await submit(client, "k1", {"w": 1})
            job = await next_of(a, "job")
            assert job["attempt"] == 1
            a.transport.abort()  # the TCP connection dies without a close handshake
            started = time.monotonic()
            b, _ = await open_worker(server, sub="wb")
            again = await next_of(b, "job", timeout=10)
            assert again["request_id"] == "k1" and again["attempt"] == 2
            assert again["fence"] > job["fence"]
            assert time.monotonic() - started >= 0.5
            await send(b, {"type": "complete", "job_id": again["job_id"], "fence": again["fence"],
                           "data": {"n": 2}})
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["result"]["data"] == {"n": 2}
            assert result["result"]["metadata"]["attempts"] == 2
            await nothing_arrives(client, 0.5)  # ends exactly once
            await b.close()

    asyncio.run(main())


def test_silent_worker_loses_its_job_and_its_late_complete_is_stale(start_server):
    server = start_server("--lease-ttl-ms", "1000", "--remote-poll-ms", "100")

    async def main():
        a, _ = await open_worker(server, sub="wa")
        async with connect(server.ws_url(server.token())) as client:
            await submit(client, "q1", {"w": 1})
            first = await next_of(a, "job")
            b, _ = await open_worker(server, sub="wb")
            # a sends nothing more; b heartbeats while waiting for the job a lost.
            second = None
            deadline = time.monotonic() + 10
            while second is None and time.monotonic() < deadline:
                await send(b, {"type": "heartbeat"})
                try:
                    msg = json.loads(await asyncio.wait_for(b.recv(), 0.3))
                    if msg["type"] == "job":
                        second = msg
                except asyncio.TimeoutError:
                    pass
            assert second and second["attempt"] == 2, second
            await send(a, {"type": "complete", "job_id": first["job_id"], "fence": first["fence"],
                           "data": {"from": "a"}})
            stale = await next_of(a, "stale")
            assert stale["job_id"] == first["job_id"] and stale["fence"] == first["fence"]
            await send(b, {"type": "complete", "job_id": second["job_id"], "fence": second["fence"],
                           "data": {"from": "b"}})
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["type"] == "result", result
            assert result["result"]["data"] == {"from": "b"}
            await a.close()
            await b.close()

    asyncio.run(main())


def test_heartbeats_keep_the_lease(start_server):
    server = start_server("--lease-ttl-ms", "600", "--remote-poll-ms", "100")

    async def main():
        a, reg = await open_worker(server, sub="wa")
        b, _ = await open_worker(server, sub="wb")
        async with connect(server.ws_url(server.token())) as client:
            await submit(client, "h1", {"w": 1})
            holder, other = None, None
            msg_a = asyncio.ensure_future(next_of(a, "job"))
            msg_b = asyncio.ensure_future(next_of(b, "job"))
            done, pending = await asyncio.wait({msg_a, msg_b}, return_when=asyncio.FIRST_COMPLETED)
            job = done.pop().result()
            holder, other = (a, b) if msg_a.done() else (b, a)
            for p in pending:
                p.cancel()
            for _ in range(8):  # 1.6 s, over twice the lease
                await send(holder, {"type": "heartbeat"})
                await asyncio.sleep(0.2)
            await send(holder, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {}})
            assert (await next_of(holder, "ack"))["job_id"] == job["job_id"]
            await nothing_arrives(other, 0.2)
        await a.close()
        await b.close()

    asyncio.run(main())


def test_cancel_from_the_client_reaches_the_worker_at_once(server):
    async def main():
        worker, _ = await open_worker(server)
        async with connect(server.ws_url(server.token())) as client:
            await submit(client, "x1", {"w": 1})
            job = await next_of(worker, "job")
            started = time.monotonic()
            await request(client, "x1-cancel", "cancel", {"request_id": "x1"})
            cancel = await next_of(worker, "cancel", timeout=2)
            assert time.monotonic() - started < 0.25
            assert cancel == {"type": "cancel", "job_id": job["job_id"], "fence": job["fence"],
                              "reason": "cancelled"}
            _, end = await recv_until(client, lambda m: m["type"] == "error"
                                      and m["error"]["request_id"] == "x1")
            assert end["error"]["code"] == "CANCELLED"
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {}})
            assert (await next_of(worker, "stale"))["job_id"] == job["job_id"]
        await worker.close()

    asyncio.run(main())


def test_time_limit_sends_cancel_timeout_and_ends_timeout(server):
    async def main():
        worker, _ = await open_worker(server, spec={**RESIZE, "time_limit": 300})
        async with connect(server.ws_url(server.token())) as client:
            await submit(client, "t1", {"w": 1})
            job = await next_of(worker, "job")
            cancel = await next_of(worker, "cancel", timeout=3)
            assert cancel["reason"] == "timeout" and cancel["job_id"] == job["job_id"]
            _, end = await recv_until(client, lambda m: m["type"] == "error")
            assert end["error"]["code"] == "TIMEOUT"
        await worker.close()

    asyncio.run(main())


def test_failures_retry_while_retryable_then_end_with_the_worker_error(start_server):
    server = start_server("--retry-base-ms", "50", "--remote-poll-ms", "50")

    async def main():
        worker, _ = await open_worker(server)
        async with connect(server.ws_url(server.token())) as client:
            await submit(client, "f1", {"w": 1})
            job = await next_of(worker, "job")
            await send(worker, {"type": "fail", "job_id": job["job_id"], "fence": job["fence"],
                                "error": {"code": "INTERNAL_ERROR", "message": "flaky",
                                          "retryable": True}})
            assert (await next_of(worker, "ack"))["job_id"] == job["job_id"]
            again = await next_of(worker, "job", timeout=5)
            assert again["attempt"] == 2
            await send(worker, {"type": "fail", "job_id": again["job_id"], "fence": again["fence"],
                                "error": {"code": "VALIDATION_ERROR", "message": "image too small",
                                          "details": {"field": "w", "expected": ">= 10",
                                                      "received": 1},
                                          "retryable": False}})
            await next_of(worker, "ack")
            _, end = await recv_until(client, lambda m: m["type"] == "error")
            assert end["error"]["code"] == "VALIDATION_ERROR"
            assert end["error"]["message"] == "image too small"
            assert end["error"]["details"]["field"] == "w"
        await worker.close()

    asyncio.run(main())


def test_remote_jobs_feed_the_job_metrics_and_the_stats_feed(start_server):
    server = start_server("--retry-base-ms", "50", "--remote-poll-ms", "50")

    async def main():
        worker, _ = await open_worker(server)
        async with connect(server.ws_url(server.token())) as client:
            await request(client, "w", "stats.watch", {})
            assert (await recv_json(client))["type"] == "response"
            await submit(client, "ok", {"w": 1})
            job = await next_of(worker, "job")
            await send(worker, {"type": "progress", "job_id": job["job_id"], "fence": job["fence"],
                                "percent": 40, "message": "resizing"})
            # The running job and its progress are in the feed while it runs.
            _, stats = await recv_until(client, lambda m: m["type"] == "stats" and any(
                r["request_id"] == "ok" and r["progress"] == 40 for r in m["stats"]["running"]))
            row = next(r for r in stats["stats"]["running"] if r["request_id"] == "ok")
            assert row["action"] == "resize" and row["message"] == "resizing"
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {}})
            await next_of(worker, "ack")
            # Its outcome is counted in the (scoped) feed's requests of the next interval.
            await recv_until(client, lambda m: m["type"] == "stats" and {
                "action": "resize", "outcome": "success", "count": 1} in m["stats"]["requests"],
                timeout=15)
            await submit(client, "bad", {"w": 2})
            job = await next_of(worker, "job")
            await send(worker, {"type": "fail", "job_id": job["job_id"], "fence": job["fence"],
                                "error": {"code": "INTERNAL_ERROR", "message": "flaky",
                                          "retryable": True}})
            again = await next_of(worker, "job", timeout=5)
            await send(worker, {"type": "fail", "job_id": again["job_id"], "fence": again["fence"],
                                "error": {"code": "VALIDATION_ERROR", "message": "too small",
                                          "details": {"field": "w", "expected": ">= 10",
                                                      "received": 2},
                                          "retryable": False}})
            await next_of(worker, "ack")
            # The outcomes reach the feed's requests and recent failures.
            _, stats = await recv_until(client, lambda m: m["type"] == "stats" and any(
                r["action"] == "resize" and r["outcome"] == "VALIDATION_ERROR"
                for r in m["stats"]["requests"]), timeout=15)
            assert any(f["request_id"] == "bad" and f["code"] == "VALIDATION_ERROR"
                       for f in stats["stats"]["recent_failures"])
        await worker.close()
        m = get_metrics(server)
        assert metric(m, "streamer_jobs_started_total", action="resize") == 3
        assert metric(m, "streamer_jobs_succeeded_total", action="resize") == 1
        assert metric(m, "streamer_jobs_retried_total", action="resize") == 1
        assert metric(m, "streamer_jobs_failed_total", action="resize", code="VALIDATION_ERROR") == 1
        assert metric(m, "streamer_job_duration_seconds_count", action="resize") == 2
        assert metric(m, "streamer_job_queue_wait_seconds_count", action="resize") == 2
        assert metric(m, "streamer_progress_published_total", action="resize") >= 1

    asyncio.run(main())


def test_tokens_without_worker_permission_or_the_action_are_refused(server):
    async def main():
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            ws = await connect(worker_url(server, server.token()))
            await recv_json(ws)
            await recv_json(ws)
        assert closed.value.rcvd.code == 4403
        ws = await connect(worker_url(server, worker_token(actions=("transcode",))))
        await send(ws, {"type": "register", "actions": [RESIZE]})
        err = await recv_json(ws)
        assert err["type"] == "error" and err["error"]["code"] == "UNAUTHORIZED"
        assert err["error"]["details"]["reason"] == "action_not_in_token"
        await ws.close()
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            ws = await connect(worker_url(server, "not-a-token"))
            await recv_json(ws)
            await recv_json(ws)
        assert closed.value.rcvd.code == 4401

    asyncio.run(main())


def test_built_in_names_and_bad_specs_are_refused(server):
    async def main():
        ws = await connect(worker_url(server, worker_token(actions=("echo", "resize"))))
        await send(ws, {"type": "register", "actions": [{"name": "echo"}]})
        err = await recv_json(ws)
        assert err["error"]["code"] == "UNAUTHORIZED"
        assert err["error"]["details"]["reason"] == "builtin_action"
        await send(ws, {"type": "register",
                        "actions": [{**RESIZE, "schema": {"type": "object", "oneOf": []}}]})
        err = await recv_json(ws)
        assert err["error"]["code"] == "VALIDATION_ERROR"
        assert err["error"]["details"]["field"] == "actions[0].schema.oneOf"
        await ws.close()
        # A second registration must match the first one's spec.
        first, _ = await open_worker(server)
        ws = await connect(worker_url(server, worker_token()))
        await send(ws, {"type": "register", "actions": [{**RESIZE, "max_attempts": 5}]})
        err = await recv_json(ws)
        d = err["error"]["details"]
        assert (d["field"], d["expected"], d["received"]) == ("actions[0].max_attempts", "3", "5")
        await ws.close()
        await first.close()

    asyncio.run(main())


def test_a_worker_only_gets_jobs_of_its_tenant_unless_its_token_allows(server):
    async def main():
        own, _ = await open_worker(server, tenant="tenant-1", sub="w1")
        async with connect(server.ws_url(server.token("bob", "tenant-2"))) as other_client:
            await submit(other_client, "o1", {"w": 1})
            await nothing_arrives(own, 0.7)
            everyone, _ = await open_worker(server, tenant="ops", sub="w2",
                                            permissions=("worker", "all_tenants"))
            job = await next_of(everyone, "job")
            assert job["identity"] == {"user_id": "bob", "tenant_id": "tenant-2", "permissions": []}
            await send(everyone, {"type": "complete", "job_id": job["job_id"],
                                  "fence": job["fence"], "data": {}})
            _, result = await recv_until(other_client, lambda m: m["type"] == "result")
            assert result["result"]["request_id"] == "o1"
            await everyone.close()
        await own.close()

    asyncio.run(main())


def test_unknown_action_is_invalid_but_a_registered_one_queues_while_no_worker_is_connected(server):
    async def main():
        async with connect(server.ws_url(server.token())) as client:
            err = await submit(client, "u1", {"w": 1})
            assert err["error"]["code"] == "INVALID_ACTION"
            worker, _ = await open_worker(server)
            await worker.close()
            await asyncio.sleep(0.2)
            queued = await submit(client, "u2", {"w": 1})
            assert queued["response"]["status"] == "queued"
            worker, _ = await open_worker(server)
            job = await next_of(worker, "job", timeout=5)
            assert job["request_id"] == "u2"
            await worker.close()

    asyncio.run(main())


def test_messages_before_register_and_malformed_frames_get_errors(server):
    async def main():
        ws = await connect(worker_url(server, worker_token()))
        await send(ws, {"type": "complete", "job_id": "1", "fence": 1, "data": {}})
        err = await recv_json(ws)
        assert err["error"]["code"] == "VALIDATION_ERROR"
        await send(ws, "not json")
        err = await recv_json(ws)
        assert err["error"]["code"] == "VALIDATION_ERROR"
        await send(ws, {"type": "register", "actions": [RESIZE]})
        assert (await recv_json(ws))["type"] == "registered"
        await send(ws, {"type": "complete", "job_id": "999", "fence": 1, "data": {}})
        assert (await recv_json(ws)) == {"type": "stale", "job_id": "999", "fence": 1}
        await ws.close()

    asyncio.run(main())


# ------------------------------------------------------------------ Redis store

def redis_gateway(start_server, redis_url):
    return start_server("--store", redis_url, "--artifact-secret", ARTIFACT_SECRET,
                        "--lease-ttl-ms", "1000", "--remote-poll-ms", "100")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_with_the_redis_store_a_job_submitted_through_one_gateway_runs_on_a_worker_of_another(
        start_server, redis_server):
    a = redis_gateway(start_server, redis_server.url)
    b = redis_gateway(start_server, redis_server.url)

    async def main():
        known, _ = await open_worker(a, sub="wa")  # makes the action known to gateway a
        await known.close()
        worker, _ = await open_worker(b, sub="wb")
        async with connect(a.ws_url(a.token())) as client:
            queued = await submit(client, "r1", {"w": 2})
            assert queued["response"]["status"] == "queued", queued
            bad = await submit(client, "r2", {"w": 0})
            assert bad["error"]["code"] == "VALIDATION_ERROR"
            job = await next_of(worker, "job", timeout=10)
            assert job["request_id"] == "r1" and job["payload"] == {"w": 2}
            await send(worker, {"type": "progress", "job_id": job["job_id"], "fence": job["fence"],
                                "percent": 30})
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {"done": True}})
            assert (await next_of(worker, "ack"))["job_id"] == job["job_id"]
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["result"]["data"] == {"done": True}
            assert result["result"]["metadata"]["handler"] == "resize"
            # A worker that dies mid-job: the job runs again on another, attempt 2.
            await submit(client, "r3", {"w": 3})
            first = await next_of(worker, "job", timeout=10)
            worker.transport.abort()
            other, _ = await open_worker(b, sub="wc")
            again = await next_of(other, "job", timeout=10)
            assert again["request_id"] == "r3" and again["attempt"] == 2
            assert again["fence"] > first["fence"]
            await send(other, {"type": "complete", "job_id": again["job_id"],
                               "fence": again["fence"], "data": {}})
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["result"]["request_id"] == "r3"
            await other.close()

    asyncio.run(main())


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_with_the_redis_store_a_submit_on_one_gateway_wakes_the_worker_on_another_without_polling(
        start_server, redis_server):
    # The fallback poll is a minute: only the lane's wake-up can bring the job in time.
    def gateway():
        return start_server("--store", redis_server.url, "--artifact-secret", ARTIFACT_SECRET,
                            "--remote-poll-ms", "60000")
    a, b = gateway(), gateway()

    async def main():
        known, _ = await open_worker(a, sub="wa")  # makes the action known to gateway a
        await known.close()
        worker, _ = await open_worker(b, sub="wb", concurrency=2)
        await asyncio.sleep(1.5)  # b's waiter now blocks on the lane (its first wait)
        async with connect(a.ws_url(a.token())) as client:
            for rid in ("w1", "w2"):
                sent = time.monotonic()
                queued = await submit(client, rid, {"w": 1})
                assert queued["response"]["status"] == "queued", queued
                job = await next_of(worker, "job", timeout=5)
                took = time.monotonic() - sent
                assert job["request_id"] == rid
                assert took < 2.0, f"job reached the other gateway's worker after {took * 1000:.0f} ms"
                await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                    "data": {}})
                assert (await next_of(worker, "ack"))["job_id"] == job["job_id"]
                _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
                assert result["result"]["request_id"] == rid, result
        await worker.close()

    asyncio.run(main())


def test_a_worker_connection_has_its_own_message_rate_above_the_clients(server):
    # A busy worker sends a progress, a heartbeat and an outcome frame per job; the
    # clients' 100 messages/s (--max-messages-per-second) would refuse most of them.
    async def main():
        worker, _ = await open_worker(server, concurrency=4)
        for _ in range(300):
            await send(worker, {"type": "heartbeat"})
        async with connect(server.ws_url(server.token())) as client:
            queued = await submit(client, "burst", {"w": 1})
            assert queued["response"]["status"] == "queued", queued
            seen, job = await recv_until(worker, lambda m: m["type"] == "job", 10)
            assert not [m for m in seen if m["type"] == "error"], seen
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {"ok": True}})
            result = await next_of(client, "result")
            assert result["result"]["data"] == {"ok": True}
        await worker.close()

    asyncio.run(main())


async def submit_when_known(client, rid, payload, timeout=5.0):
    """Submits until the gateway knows the action (its registry refresh), then returns
    the first answer other than INVALID_ACTION."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        attempt += 1
        msg = await submit(client, f"{rid}-probe{attempt}" if attempt > 1 else rid, payload)
        if msg.get("type") != "error" or msg["error"]["code"] != "INVALID_ACTION":
            return msg
        assert loop.time() < deadline, f"the action never became known: {msg}"
        await asyncio.sleep(0.1)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_with_redis_an_action_registered_at_one_gateway_is_known_and_validated_at_another(
        start_server, redis_server):
    a = redis_gateway(start_server, redis_server.url)
    b = redis_gateway(start_server, redis_server.url)

    async def main():
        worker, _ = await open_worker(a, sub="wa")  # connected to gateway a only
        async with connect(b.ws_url(b.token())) as client:
            # A bad payload is refused at b with the seed's details, before queued.
            bad = await submit_when_known(client, "bad", {"w": "wide"})
            assert bad["type"] == "error" and bad["error"]["code"] == "VALIDATION_ERROR", bad
            d = bad["error"]["details"]
            assert (d["field"], d["expected"], d["received"]) == ("w", "integer", "wide")
            queued = await submit(client, "r1", {"w": 2})
            assert queued["response"]["status"] == "queued", queued
            job = await next_of(worker, "job", timeout=10)
            assert job["request_id"] == "r1" and job["payload"] == {"w": 2}
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {"done": True}})
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["type"] == "result", result
            assert result["result"]["data"] == {"done": True}
            assert result["result"]["metadata"]["handler"] == "resize"
        # A worker at b may not register the name with another spec.
        other = await connect(worker_url(b, worker_token(sub="wb")))
        await send(other, {"type": "register", "actions": [{**RESIZE, "time_limit": 1000}]})
        err = await recv_json(other)
        assert err["error"]["code"] == "VALIDATION_ERROR", err
        assert err["error"]["details"]["field"] == "actions[0].time_limit"
        await other.close()
        await worker.close()

    asyncio.run(main())


def test_two_gateways_on_one_sqlite_file_share_the_registered_actions(start_server, tmp_path):
    shared = tmp_path / "shared"
    a = start_server("--remote-poll-ms", "100", data_dir=shared)
    b = start_server("--remote-poll-ms", "100", data_dir=shared)

    async def main():
        worker, _ = await open_worker(a)
        async with connect(b.ws_url(b.token())) as client:
            bad = await submit_when_known(client, "bad", {"w": 0})
            assert bad["error"]["code"] == "VALIDATION_ERROR", bad
            assert bad["error"]["details"]["field"] == "w"
            queued = await submit(client, "r1", {"w": 5})
            assert queued["response"]["status"] == "queued", queued
            job = await next_of(worker, "job", timeout=10)
            assert job["request_id"] == "r1"
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {"w": 5}})
            assert (await next_of(worker, "ack"))["job_id"] == job["job_id"]
        # Without an event bus the outcome is not pushed across processes; a subscribe at
        # b finds it stored and re-sends it.
        async with connect(b.ws_url(b.token())) as client:
            await request(client, "s", "subscribe", {"request_id": "r1"})
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["result"]["data"] == {"w": 5}
            assert result["result"]["metadata"]["handler"] == "resize"
        await worker.close()

    asyncio.run(main())


def test_an_action_without_workers_expires_and_its_queued_jobs_wait_for_the_next_worker(
        start_server):
    server = start_server("--remote-action-ttl-ms", "600", "--remote-poll-ms", "100")

    async def main():
        worker, _ = await open_worker(server)
        await worker.close()
        async with connect(server.ws_url(server.token())) as client:
            queued = await submit(client, "early", {"w": 1})
            assert queued["response"]["status"] == "queued", queued
            await asyncio.sleep(1.5)  # the ttl and a refresh after the last worker left
            gone = await submit(client, "late", {"w": 1})
            assert gone["error"]["code"] == "INVALID_ACTION", gone
            # The next worker of the action makes it known again and gets the queued job.
            worker, _ = await open_worker(server, sub="worker-2")
            job = await next_of(worker, "job", timeout=10)
            assert job["request_id"] == "early"
            await send(worker, {"type": "complete", "job_id": job["job_id"], "fence": job["fence"],
                                "data": {}})
            _, result = await recv_until(client, lambda m: m["type"] in ("result", "error"))
            assert result["type"] == "result" and result["result"]["request_id"] == "early"
            again = await submit(client, "later", {"w": 1})
            assert again["response"]["status"] == "queued", again
            await worker.close()

    asyncio.run(main())
