"""Unit tests of streamer_client against the fake server in pysdk_fake.py."""
from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from pysdk_fake import FakeStreamer
from streamer_client import (
    CloseCode,
    ConnectionState,
    ErrorCode,
    InvalidActionError,
    MessageTooLargeError,
    NotFoundError,
    RateLimitedError,
    RequestCancelledError,
    StateEvent,
    StreamerClient,
    StreamerError,
    UnauthorizedError,
    ValidationError,
    backoff_delay,
    error_from_close,
    new_request_id,
)

FAST = dict(reconnect_base_delay=0.01, reconnect_max_delay=0.05)


def make_client(fake: FakeStreamer, **kw: Any) -> StreamerClient:
    kw.setdefault("token", None if "get_token" in kw else "tok")
    for k, v in FAST.items():
        kw.setdefault(k, v)
    return StreamerClient(endpoint=fake.url, **kw)


async def wait_for(pred, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# ----------------------------------------------------------------- pure helpers
def test_request_ids_follow_seed_shape_and_are_unique():
    ids = {new_request_id() for _ in range(5000)}
    assert len(ids) == 5000
    for rid in list(ids)[:50]:
        assert re.fullmatch(r"\d{13}-[0-9a-z]{12}", rid), rid


def test_backoff_is_exponential_with_jitter_and_capped():
    assert backoff_delay(0, 1.0, rng=lambda: 1.0) == 1.0
    assert backoff_delay(3, 1.0, rng=lambda: 1.0) == 8.0
    assert backoff_delay(3, 1.0, rng=lambda: 0.0) == 4.0
    assert backoff_delay(20, 1.0, max_delay=30, rng=lambda: 1.0) == 30.0
    for n in range(8):
        d = backoff_delay(n, 1.0)
        assert min(2**n, 30) / 2 <= d <= min(2**n, 30)


@pytest.mark.parametrize(
    "code,expected,retryable",
    [
        ("VALIDATION_ERROR", ValidationError, False),
        ("NOT_FOUND", NotFoundError, False),
        ("UNAUTHORIZED", UnauthorizedError, False),
        ("INTERNAL_ERROR", StreamerError, True),
        ("TIMEOUT", StreamerError, True),
        ("RATE_LIMITED", RateLimitedError, True),
        ("INVALID_ACTION", InvalidActionError, False),
        ("CANCELLED", RequestCancelledError, False),
        ("SOMETHING_NEW", StreamerError, False),
    ],
)
def test_error_body_mapping(code, expected, retryable):
    e = StreamerError.from_body({"request_id": "r1", "code": code, "message": "m", "details": {"field": "x"}})
    assert isinstance(e, expected) and isinstance(e, StreamerError)
    assert (e.code, e.message, e.request_id, e.retryable) == (code, "m", "r1", retryable)
    assert e.details == {"field": "x"}
    # details.retryable from the server wins over the table.
    e2 = StreamerError.from_body({"request_id": "r1", "code": code, "message": "m", "details": {"retryable": True}})
    assert e2.retryable is True


@pytest.mark.parametrize(
    "close,code,retryable",
    [
        (4401, ErrorCode.UNAUTHORIZED, False),
        (4403, ErrorCode.UNAUTHORIZED, False),
        (4429, ErrorCode.RATE_LIMITED, True),
        (1009, ErrorCode.MESSAGE_TOO_LARGE, False),
        (1001, ErrorCode.CONNECTION_FAILED, True),
        (1012, ErrorCode.CONNECTION_FAILED, True),
        (1013, ErrorCode.CONNECTION_FAILED, True),
        (1006, ErrorCode.CONNECTION_FAILED, True),
    ],
)
def test_close_code_mapping(close, code, retryable):
    e = error_from_close(close, "why", {"code": "X", "message": "srv", "details": {"retry_after_ms": 10}})
    assert e.code == code and e.retryable is retryable and e.close_code == close
    assert e.details["close_code"] == close and e.request_id is None
    assert error_from_close(4403).details["reason"] == "forbidden_tenant"


def test_constructor_requires_exactly_one_token_source():
    with pytest.raises(ValueError):
        StreamerClient(endpoint="ws://x/production")
    with pytest.raises(ValueError):
        StreamerClient(endpoint="ws://x/production", token="a", get_token=lambda: "b")
    StreamerClient(endpoint="ws://x/production", token="a")  # no running loop needed


# --------------------------------------------------------------- basic requests
async def test_sync_request_connects_on_first_use(pysdk_fake):
    events: list[StateEvent] = []
    client = make_client(pysdk_fake, on_state_change=events.append)
    assert client.state is ConnectionState.DISCONNECTED
    data = await client.request(action="health", payload={})
    assert data["status"] == "healthy"
    assert [e.state for e in events][:2] == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
    sent = pysdk_fake.requests_for("health")[0]
    assert re.fullmatch(r"\d{13}-[0-9a-z]{12}", sent["id"])
    assert sent["payload"] == {} and sent["metadata"]["client_version"].startswith("streamer-client-python/")
    assert pysdk_fake.handshake_tokens == ["tok"]
    await client.close()
    assert client.state is ConnectionState.CLOSED


async def test_async_request_progress_and_result(pysdk_fake):
    seen_global: list[dict] = []
    seen_local: list[dict] = []

    async def async_cb(p):  # async callbacks work too
        seen_local.append(p)

    async with make_client(pysdk_fake, on_progress=seen_global.append) as client:
        data = await client.request(action="delay", payload={"duration_ms": 100, "steps": 4},
                                    on_progress=async_cb, metadata={"trace_id": "t-1"})
        await asyncio.sleep(0.01)
    assert data == {"slept_ms": 100, "steps": 4}
    assert [p["progress"] for p in seen_global] == [25, 50, 75, 100]
    assert [p["progress"] for p in seen_local] == [25, 50, 75, 100]
    assert seen_global[0]["message"] == "step 1/4"
    assert pysdk_fake.requests_for("delay")[0]["metadata"]["trace_id"] == "t-1"


async def test_concurrent_requests_are_correlated_by_id(pysdk_fake):
    async with make_client(pysdk_fake) as client:
        results = await asyncio.gather(*[client.request("echo", {"n": i}) for i in range(30)])
    assert results == [{"n": i} for i in range(30)]


async def test_error_mapping_from_server(pysdk_fake):
    pysdk_fake.tokens["ro"] = {"sub": "u1", "perms": {"read"}}
    async with StreamerClient(endpoint=pysdk_fake.url, token="ro") as client:
        with pytest.raises(ValidationError) as ei:
            await client.request("delay", {"duration_ms": -1})
        assert ei.value.code == "VALIDATION_ERROR" and ei.value.details["field"] == "duration_ms"
        assert ei.value.request_id == pysdk_fake.requests_for("delay")[0]["id"]
        assert ei.value.retryable is False
        with pytest.raises(InvalidActionError):
            await client.request("no_such_action", {})
        with pytest.raises(UnauthorizedError) as ei:
            await client.request("write_only", {})
        assert ei.value.details["permission"] == "write"
        with pytest.raises(StreamerError) as ei:
            await client.request("fail_async", {"code": "INTERNAL_ERROR"})
        assert ei.value.code == "INTERNAL_ERROR" and ei.value.retryable is True
        with pytest.raises(NotFoundError):
            await client.subscribe("nope")
        # the connection is still usable after errors
        assert (await client.request("health"))["status"] == "healthy"
    assert len(pysdk_fake.connections) == 1


# --------------------------------------------------------------- size and caps
async def test_message_over_limit_is_refused_before_sending(pysdk_fake):
    client = make_client(pysdk_fake)
    with pytest.raises(MessageTooLargeError) as ei:
        await client.request("echo", {"blob": "x" * 1_048_576})
    assert ei.value.code == "MESSAGE_TOO_LARGE" and ei.value.details["limit_bytes"] == 1_048_576
    assert pysdk_fake.received == [] and pysdk_fake.handshake_tokens == []  # nothing sent, no connection
    # just under the limit goes through (the fake's limit is 1 MiB too)
    small = await client.request("echo", {"blob": "x" * 1_000_000})
    assert len(small["blob"]) == 1_000_000
    # multi-byte characters count as bytes, not characters
    with pytest.raises(MessageTooLargeError):
        await client.request("echo", {"blob": "é" * 600_000})
    await client.close()


async def test_at_most_max_in_flight_rest_queued_client_side(pysdk_fake):
    async with make_client(pysdk_fake) as client:
        tasks = [asyncio.create_task(client.request("delay", {"duration_ms": 150, "steps": 1}))
                 for _ in range(25)]
        await wait_for(lambda: client.in_flight == 10)
        assert client.queued == 15
        results = await asyncio.gather(*tasks)
    assert all(r == {"slept_ms": 150, "steps": 1} for r in results)
    assert pysdk_fake.max_seen_concurrency == 10
    assert pysdk_fake.rate_limited_sent == 0
    assert len(pysdk_fake.requests_for("delay")) == 25


async def test_in_flight_cap_is_configurable(pysdk_fake):
    async with make_client(pysdk_fake, max_in_flight=2) as client:
        await asyncio.gather(*[client.request("slow", {"ms": 50}) for _ in range(6)])
    assert pysdk_fake.max_seen_concurrency == 2


# ------------------------------------------------------------------ rate limits
async def test_rate_limited_is_retried_after_retry_after_ms(pysdk_fake):
    pysdk_fake.rate_limit_next = 2
    pysdk_fake.retry_after_ms = 150
    async with make_client(pysdk_fake) as client:
        t0 = time.monotonic()
        data = await client.request("echo", {"a": 1})
        elapsed = time.monotonic() - t0
    assert data == {"a": 1}
    sent = pysdk_fake.requests_for("echo")
    assert len(sent) == 3 and len({m["id"] for m in sent}) == 1  # same id each time
    assert elapsed >= 0.3


async def test_rate_limited_gives_up_after_configured_retries(pysdk_fake):
    pysdk_fake.rate_limit_next = 100
    pysdk_fake.retry_after_ms = 5
    async with make_client(pysdk_fake, rate_limit_retries=3) as client:
        with pytest.raises(RateLimitedError) as ei:
            await client.request("echo", {})
        assert ei.value.details["retry_after_ms"] == 5 and ei.value.retryable
    assert len(pysdk_fake.requests_for("echo")) == 4


# --------------------------------------------------------------------- timeouts
async def test_timeout_of_a_sync_request(pysdk_fake):
    async with make_client(pysdk_fake) as client:
        t0 = time.monotonic()
        with pytest.raises(StreamerError) as ei:
            await client.request("hang", {}, timeout=0.2)
        assert 0.15 < time.monotonic() - t0 < 2
        assert ei.value.code == "TIMEOUT" and ei.value.details["source"] == "client"
        assert ei.value.retryable
        assert client.in_flight == 0  # the slot was released
        assert (await client.request("health"))["status"] == "healthy"


async def test_timeout_of_an_async_request_cancels_it_on_the_server(pysdk_fake):
    async with make_client(pysdk_fake, request_timeout=0.2) as client:
        with pytest.raises(StreamerError) as ei:
            await client.request("delay", {"duration_ms": 5000, "steps": 50})
        assert ei.value.code == "TIMEOUT"
        rid = pysdk_fake.requests_for("delay")[0]["id"]
        await wait_for(lambda: any(m["payload"].get("request_id") == rid for m in pysdk_fake.requests_for("cancel")))
        await wait_for(lambda: pysdk_fake.jobs[rid].status == "cancelled")


# ----------------------------------------------------------------- cancellation
async def test_cancelling_the_awaiting_task_sends_cancel(pysdk_fake):
    progress: list[dict] = []
    async with make_client(pysdk_fake) as client:
        task = asyncio.create_task(client.request("delay", {"duration_ms": 5000, "steps": 100},
                                                  on_progress=progress.append))
        await wait_for(lambda: len(progress) >= 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        rid = pysdk_fake.requests_for("delay")[0]["id"]
        await wait_for(lambda: pysdk_fake.jobs[rid].status == "cancelled")
        assert client.in_flight == 0
        assert [m["payload"] for m in pysdk_fake.requests_for("cancel")] == [{"request_id": rid}]


async def test_cancelling_a_request_still_queued_client_side_sends_nothing(pysdk_fake):
    async with make_client(pysdk_fake, max_in_flight=1) as client:
        first = asyncio.create_task(client.request("slow", {"ms": 200}))
        second = asyncio.create_task(client.request("echo", {"x": 1}))
        await wait_for(lambda: client.queued == 1)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        assert client.queued == 0
        await first
    assert pysdk_fake.requests_for("echo") == [] and pysdk_fake.requests_for("cancel") == []


async def test_cancel_helper_and_cancelled_error(pysdk_fake):
    async with make_client(pysdk_fake) as client:
        rid = new_request_id()
        task = asyncio.create_task(client.request("delay", {"duration_ms": 5000, "steps": 100}, request_id=rid))
        await wait_for(lambda: rid in pysdk_fake.jobs)
        data = await client.cancel(rid)
        assert data == {"request_id": rid, "status": "cancelling"}
        with pytest.raises(RequestCancelledError) as ei:
            await task
        assert ei.value.code == "CANCELLED" and ei.value.request_id == rid
        with pytest.raises(NotFoundError):
            await client.cancel("unknown-id")


async def test_subscribe_helper_follows_a_request_from_another_client(pysdk_fake):
    rid = new_request_id()
    async with make_client(pysdk_fake) as a, make_client(pysdk_fake) as b:
        started = asyncio.create_task(a.request("delay", {"duration_ms": 300, "steps": 3}, request_id=rid))
        await wait_for(lambda: rid in pysdk_fake.jobs)
        seen: list[float] = []
        result = await b.subscribe(rid, on_progress=lambda p: seen.append(p["progress"]))
        assert result == {"slept_ms": 300, "steps": 3} == await started
        assert seen and seen[-1] == 100
        # a finished request: the stored result is returned at once
        assert await b.subscribe(rid) == {"slept_ms": 300, "steps": 3}


# ------------------------------------------------------------ reconnect & resume
async def test_reconnect_and_resume_after_crash(pysdk_fake):
    """The server dies mid-request (no close frame) and comes back on the same
    port: the await completes as if nothing happened, progress keeps flowing."""
    events: list[StateEvent] = []
    progress: list[float] = []
    client = make_client(pysdk_fake, on_state_change=events.append, reconnect_base_delay=0.1,
                         reconnect_max_delay=2.0)
    task = asyncio.create_task(client.request("delay", {"duration_ms": 1000, "steps": 10},
                                              on_progress=lambda p: progress.append(p["progress"])))
    await wait_for(lambda: len(progress) >= 2)
    port = pysdk_fake.port
    await pysdk_fake.stop()
    await asyncio.sleep(0.3)
    await pysdk_fake.start(port)
    assert await asyncio.wait_for(task, 10) == {"slept_ms": 1000, "steps": 10}
    assert progress[-1] == 100 and progress == sorted(progress)
    rid = pysdk_fake.requests_for("delay")[0]["id"]
    assert len(pysdk_fake.requests_for("delay")) == 1  # not re-submitted: resumed
    assert [m["payload"] for m in pysdk_fake.requests_for("subscribe")] == [{"request_id": rid}]
    states = [(e.state, e.code) for e in events]
    assert (ConnectionState.DISCONNECTED, 1006) in states
    assert states.count((ConnectionState.CONNECTED, None)) == 2
    disc = next(e for e in events if e.state is ConnectionState.DISCONNECTED)
    assert disc.reconnect_in is not None and disc.error is None
    await client.close()


@pytest.mark.parametrize("code", [1001, 1012, 1013, 1011])
async def test_server_close_codes_reconnect_and_resubscribe(pysdk_fake, code):
    events: list[StateEvent] = []
    progress: list[float] = []
    client = make_client(pysdk_fake, on_state_change=events.append)
    task = asyncio.create_task(client.request("delay", {"duration_ms": 400, "steps": 8},
                                              on_progress=lambda p: progress.append(p["progress"])))
    await wait_for(lambda: len(progress) >= 1)
    await pysdk_fake.close_all(code, "bye")
    assert await asyncio.wait_for(task, 5) == {"slept_ms": 400, "steps": 8}
    assert len(pysdk_fake.requests_for("subscribe")) == 1
    disc = next(e for e in events if e.state is ConnectionState.DISCONNECTED)
    assert (disc.code, disc.reason) == (code, "bye")
    if code in (CloseCode.GOING_AWAY, CloseCode.TRY_AGAIN_LATER):
        assert disc.reconnect_in == 0.0  # lifetime end, slow reader: at once
    else:
        assert disc.reconnect_in is not None and disc.reconnect_in > 0.0
    assert len(pysdk_fake.connections) == 2
    await client.close()


async def test_sent_but_unanswered_requests_are_resent_with_the_same_id(pysdk_fake):
    dropped: list[str] = []

    async def drop_first(ws, msg):
        if msg.get("action") in ("delay", "echo") and len(dropped) < 2:
            dropped.append(msg["id"])
            ws.transport.abort()
            return True
        return False

    pysdk_fake.intercept = drop_first
    async with make_client(pysdk_fake) as client:
        a, b = await asyncio.gather(client.request("delay", {"duration_ms": 50, "steps": 1}),
                                    client.request("echo", {"k": "v"}))
    assert a == {"slept_ms": 50, "steps": 1} and b == {"k": "v"}
    ids = [m["id"] for m in pysdk_fake.received if m.get("action") in ("delay", "echo")]
    assert set(dropped) <= set(ids) and len(set(ids)) == 2  # re-sent, never re-numbered


async def test_requests_made_while_disconnected_wait_for_the_connection(pysdk_fake):
    async with make_client(pysdk_fake, reconnect_base_delay=0.2, reconnect_max_delay=2.0) as client:
        port = pysdk_fake.port
        await pysdk_fake.stop()
        task = asyncio.create_task(client.request("echo", {"late": True}))
        await asyncio.sleep(0.1)
        await pysdk_fake.start(port)
        assert await asyncio.wait_for(task, 10) == {"late": True}


async def test_gives_up_after_reconnect_attempts(pysdk_fake):
    events: list[StateEvent] = []
    client = make_client(pysdk_fake, on_state_change=events.append, reconnect_attempts=3)
    await pysdk_fake.stop()
    with pytest.raises(StreamerError) as ei:
        await client.request("health")
    assert ei.value.code == "CONNECTION_FAILED" and ei.value.retryable
    connecting = [e for e in events if e.state is ConnectionState.CONNECTING]
    assert [e.attempt for e in connecting] == [0, 1, 2, 3]
    assert events[-1].state is ConnectionState.DISCONNECTED and events[-1].reconnect_in is None
    assert events[-1].error is not None
    # the client is still usable once the server is back
    await pysdk_fake.start()
    client.endpoint = pysdk_fake.url
    assert (await client.request("health"))["status"] == "healthy"
    await client.close()


async def test_idle_client_does_not_reconnect_until_next_request(pysdk_fake):
    async with make_client(pysdk_fake) as client:
        await client.request("health")
        await pysdk_fake.close_all(1001, "lifetime")
        await wait_for(lambda: client.state is ConnectionState.DISCONNECTED)
        await asyncio.sleep(0.1)
        assert len(pysdk_fake.connections) == 1
        assert (await client.request("health"))["status"] == "healthy"
        assert len(pysdk_fake.connections) == 2


# ---------------------------------------------------------------- tokens & auth
async def test_token_refresh_on_4401_token_expired(pysdk_fake):
    pysdk_fake.tokens = {"t1": {"sub": "u1", "perms": {"read", "write"}},
                         "t2": {"sub": "u1", "perms": {"read", "write"}}}
    issued: list[str] = []

    async def get_token() -> str:
        issued.append(f"t{len(issued) + 1}")
        return issued[-1]

    events: list[StateEvent] = []
    progress: list[float] = []
    client = make_client(pysdk_fake, get_token=get_token, on_state_change=events.append)
    task = asyncio.create_task(client.request("delay", {"duration_ms": 500, "steps": 10},
                                              on_progress=lambda p: progress.append(p["progress"])))
    await wait_for(lambda: len(progress) >= 2)
    await pysdk_fake.expire("t1")
    assert await asyncio.wait_for(task, 5) == {"slept_ms": 500, "steps": 10}
    assert issued == ["t1", "t2"] and pysdk_fake.handshake_tokens == ["t1", "t2"]
    disc = next(e for e in events if e.state is ConnectionState.DISCONNECTED)
    assert disc.code == 4401 and disc.reason == "token_expired"
    assert len(pysdk_fake.requests_for("subscribe")) == 1
    await client.close()


async def test_sync_get_token_is_accepted(pysdk_fake):
    async with make_client(pysdk_fake, get_token=lambda: "tok") as client:
        assert (await client.request("health"))["status"] == "healthy"


async def test_static_bad_token_fails_with_unauthorized(pysdk_fake):
    client = StreamerClient(endpoint=pysdk_fake.url, token="wrong", **FAST)
    with pytest.raises(UnauthorizedError) as ei:
        await client.request("health")
    assert ei.value.close_code == 4401 and ei.value.details["reason"] == "bad_signature"
    assert len(pysdk_fake.handshake_tokens) == 1  # no pointless reconnect loop
    await client.close()


async def test_refreshed_token_still_rejected_fails_once(pysdk_fake):
    calls = 0

    def bad_token() -> str:
        nonlocal calls
        calls += 1
        return "never-valid"

    client = make_client(pysdk_fake, get_token=bad_token)
    with pytest.raises(UnauthorizedError):
        async with client:
            pass
    assert calls == 2 and len(pysdk_fake.handshake_tokens) == 2


async def test_forbidden_tenant_4403_is_fatal(pysdk_fake):
    pysdk_fake.tokens["other"] = {"sub": "u2", "perms": set(), "forbidden": True}
    client = StreamerClient(endpoint=pysdk_fake.url, token="other", **FAST)
    with pytest.raises(UnauthorizedError) as ei:
        await client.request("health")
    assert ei.value.close_code == 4403 and ei.value.details["reason"] == "forbidden_tenant"
    assert len(pysdk_fake.handshake_tokens) == 1
    await client.close()


# ----------------------------------------------------------------------- close
async def test_close_fails_waiting_requests_and_is_final(pysdk_fake):
    client = make_client(pysdk_fake)
    task = asyncio.create_task(client.request("hang", {}))
    await wait_for(lambda: client.in_flight == 1)
    await client.close()
    with pytest.raises(StreamerError) as ei:
        await task
    assert ei.value.code == "CLIENT_CLOSED"
    with pytest.raises(StreamerError):
        await client.request("health")
    await client.close()  # idempotent


async def test_callback_exceptions_do_not_break_the_client(pysdk_fake):
    def boom(_):
        raise RuntimeError("user bug")

    async with make_client(pysdk_fake, on_progress=boom, on_state_change=boom) as client:
        assert await client.request("delay", {"duration_ms": 20, "steps": 2}) == {"slept_ms": 20, "steps": 2}


# ----------------------------------------------------------------------- README
async def test_readme_seed_example_runs_as_written(pysdk_fake, capsys):
    from pathlib import Path
    import textwrap

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"<!-- pysdk-readme-example -->\s*```python\n(.*?)```", text, re.S).group(1)
    assert "from streamer_client import StreamerClient" in block
    block = block.replace("ws://localhost:8080/production", pysdk_fake.url).replace("your-jwt-token", "tok")
    namespace: dict = {}
    exec("async def _example():\n" + textwrap.indent(block, "    ") + "\n    return client, result\n", namespace)
    client, result = await namespace["_example"]()
    await client.close()
    assert result == {"slept_ms": 60, "steps": 3}
    assert "100.0% - step 3/3" in capsys.readouterr().out


async def test_resume_survives_rate_limited_subscribe(pysdk_fake):
    limited: list[str] = []

    async def limit_subscribes(ws, msg):
        if msg.get("action") == "subscribe" and len(limited) < 3:
            limited.append(msg["id"])
            await ws.send(__import__("json").dumps(pysdk_fake._err(msg["id"], "RATE_LIMITED", "slow down",
                                                                   retry_after_ms=20)))
            return True
        return False

    pysdk_fake.intercept = limit_subscribes
    progress: list[float] = []
    client = make_client(pysdk_fake)
    task = asyncio.create_task(client.request("delay", {"duration_ms": 300, "steps": 6},
                                              on_progress=lambda p: progress.append(p["progress"])))
    await wait_for(lambda: len(progress) >= 1)
    await pysdk_fake.close_all(1012, "drain")
    assert await asyncio.wait_for(task, 5) == {"slept_ms": 300, "steps": 6}
    assert len(limited) == 3 and len(pysdk_fake.requests_for("subscribe")) == 4
    await client.close()
