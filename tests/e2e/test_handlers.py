"""The handler API seen from a client, through the README's example handler.

`word_count` is one file and one registration line (docs/handlers.md): it is served,
declared async (so stored and answered `queued` whatever its one-second estimate), its
payload is parsed before anything is queued, and it needs the `read` permission.
"""
from __future__ import annotations

from helpers_e2e import assert_error, assert_queued, call, connect, until_terminal


async def test_word_count_is_served_async_and_counts_words(server):
    async with connect(server.ws_url(server.token())) as ws:
        first = await call(ws, "wc-1", "word_count", {"text": "the quick  brown\tfox\njumps "})
        queued = assert_queued(first, "wc-1")
        assert queued["estimated_duration"] == 1, queued
        mine, last = await until_terminal(ws, "wc-1")
    assert last["type"] == "result", last
    assert last["result"]["success"] is True and last["result"]["data"] == {"words": 5}, last
    assert last["result"]["metadata"]["handler"] == "word_count", last
    progress = [m["progress"]["progress"] for m in mine if m["type"] == "progress"]
    assert progress and progress[-1] == 100, mine


async def test_a_bad_payload_is_refused_at_once_and_nothing_is_stored(server):
    async with connect(server.ws_url(server.token())) as ws:
        answer = await call(ws, "wc-bad", "word_count", {"text": 42})
        assert_error(answer, "VALIDATION_ERROR", "wc-bad", field="text", expected="string", received="42",
                     retryable=False)
        missing = await call(ws, "wc-none", "word_count", {})
        assert_error(missing, "VALIDATION_ERROR", "wc-none", field="text")
        snapshot = await call(ws, "s", "subscribe", {"request_id": "wc-bad"})
        assert_error(snapshot, "NOT_FOUND", "s")


async def test_word_count_needs_the_read_permission(server):
    async with connect(server.ws_url(server.token(permissions=("write",)))) as ws:
        answer = await call(ws, "wc-w", "word_count", {"text": "a"})
    assert_error(answer, "UNAUTHORIZED", "wc-w", required_permission="read")
