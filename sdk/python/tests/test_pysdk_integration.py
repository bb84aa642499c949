"""Integration tests of streamer_client against the real `build/streamer` binary.
Skipped (with the reason) when the binary has not been built."""
from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest

from streamer_client import (
    ConnectionState,
    InvalidActionError,
    NotFoundError,
    RequestCancelledError,
    StateEvent,
    StreamerClient,
    StreamerError,
    UnauthorizedError,
    ValidationError,
    new_request_id,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def client_for(server, **kw) -> StreamerClient:
    kw.setdefault("reconnect_base_delay", 0.2)
    if "get_token" not in kw:
        kw.setdefault("token", server.token())
    return StreamerClient(endpoint=server.url, **kw)


async def test_health(pysdk_server):
    async with client_for(pysdk_server) as client:
        data = await client.request("health", {})
    assert data["status"] == "healthy"
    assert "timestamp" in data and "version" in data


async def test_async_delay_with_progress(pysdk_server):
    progress: list[dict] = []
    async with client_for(pysdk_server) as client:
        data = await client.request(action="delay", payload={"duration_ms": 1500, "steps": 5},
                                    on_progress=progress.append, timeout=60)
    assert data == {"slept_ms": 1500, "steps": 5}
    assert progress, "no progress received"
    pcts = [p["progress"] for p in progress]
    assert pcts == sorted(pcts) and pcts[-1] == 100
    assert all(isinstance(p.get("message"), str) for p in progress)


async def test_errors_of_each_kind(pysdk_server):
    async with client_for(pysdk_server) as client:
        with pytest.raises(ValidationError) as ei:
            await client.request("delay", {"duration_ms": -5})
        assert ei.value.code == "VALIDATION_ERROR" and ei.value.request_id and not ei.value.retryable
        with pytest.raises(InvalidActionError) as ei:
            await client.request("no_such_action", {})
        assert ei.value.code == "INVALID_ACTION"
        with pytest.raises(NotFoundError):
            await client.subscribe(new_request_id())
        # the connection survives request errors
        assert (await client.request("health"))["status"] == "healthy"

    # process_data needs the `write` permission.
    async with client_for(pysdk_server, token=pysdk_server.token(permissions="read")) as client:
        with pytest.raises(UnauthorizedError) as ei:
            await client.request("process_data", {"pipeline": "classification",
                                                  "data_source": {"type": "file", "path": "/data/input.csv"},
                                                  "output": {"format": "json"}})
        assert ei.value.code == "UNAUTHORIZED" and ei.value.close_code is None

    # A bad token: the server closes with 4401; with a fixed token that is final.
    bad = StreamerClient(endpoint=pysdk_server.url, token="not-a-jwt", reconnect_base_delay=0.1)
    with pytest.raises(UnauthorizedError) as ei:
        await bad.request("health")
    assert ei.value.close_code == 4401
    await bad.close()


async def test_cancel_and_timeout(pysdk_server):
    async with client_for(pysdk_server) as client:
        rid = new_request_id()
        task = asyncio.create_task(client.request("delay", {"duration_ms": 20000, "steps": 20}, request_id=rid))
        await asyncio.sleep(0.5)
        answer = await client.cancel(rid)
        assert answer["request_id"] == rid and answer["status"] in ("cancelled", "cancelling")
        with pytest.raises(RequestCancelledError):
            await asyncio.wait_for(task, 30)

        with pytest.raises(StreamerError) as ei:
            await client.request("delay", {"duration_ms": 20000, "steps": 2}, timeout=0.5)
        assert ei.value.code == "TIMEOUT" and ei.value.details["source"] == "client"


async def test_kill_and_restart_mid_delay_still_resolves(pysdk_server):
    events: list[StateEvent] = []
    progress: list[float] = []
    client = client_for(pysdk_server, on_state_change=events.append, reconnect_attempts=8)
    task = asyncio.create_task(client.request("delay", {"duration_ms": 4000, "steps": 8},
                                              on_progress=lambda p: progress.append(p["progress"])))
    for _ in range(200):
        if progress:
            break
        await asyncio.sleep(0.05)
    assert progress, "no progress before the crash"
    pysdk_server.kill()
    await asyncio.sleep(0.3)
    await asyncio.to_thread(pysdk_server.start)
    data = await asyncio.wait_for(task, 90)
    assert data == {"slept_ms": 4000, "steps": 8}
    assert any(e.state is ConnectionState.DISCONNECTED for e in events)
    assert sum(e.state is ConnectionState.CONNECTED for e in events) >= 2
    await client.close()


async def test_token_refresh_through_callback(pysdk_server):
    minted: list[str] = []

    def get_token() -> str:
        minted.append(pysdk_server.token(ttl=2))
        return minted[-1]

    client = client_for(pysdk_server, get_token=get_token)
    # The first token expires while the request runs; the server then closes with
    # 4401 (token_expired) and the client reconnects with a fresh token.
    data = await client.request("delay", {"duration_ms": 4000, "steps": 4}, timeout=60)
    assert data == {"slept_ms": 4000, "steps": 4}
    assert len(minted) >= 1
    await client.close()


async def test_readme_example_runs_as_written(pysdk_server):
    text = README.read_text()
    block = re.search(r"<!-- pysdk-readme-example -->\s*```python\n(.*?)```", text, re.S).group(1)
    block = block.replace("ws://localhost:8080/production", pysdk_server.url)
    block = block.replace("your-jwt-token", pysdk_server.token())
    namespace: dict = {}
    exec("async def _example():\n" + textwrap.indent(block, "    ") + "\n    return result\n", namespace)
    try:
        result = await asyncio.wait_for(namespace["_example"](), 600)
    except StreamerError as e:
        # The example's input file may not exist on this server: that must be a
        # proper server error for this request, not a client failure.
        assert e.request_id is not None and e.code in ("VALIDATION_ERROR", "NOT_FOUND"), e
    else:
        assert isinstance(result, dict)
