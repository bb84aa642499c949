"""Async work is bounded and fair between tenants, and a cancel answered `cancelling`
always ends CANCELLED (docs/protocol.md "Bounds on queued work", "cancel";
docs/architecture.md "Fair claims")."""
from __future__ import annotations

import asyncio
import time

from helpers_e2e import (assert_error, assert_queued, assert_success, call, connect, is_number, recv,
                         request, request_id_of, until_terminal)

TEN_MINUTES = {"duration_ms": 600_000, "steps": 1}


async def submit_by_reconnecting(server, token, ids, per_connection=10):
    """Sends a `delay` of ten minutes for every id, `per_connection` on each new
    connection (the per-connection limit frees its slots when the client leaves; the
    jobs stay). Returns {id: first answer}."""
    answers = {}
    for start in range(0, len(ids), per_connection):
        chunk = ids[start:start + per_connection]
        async with connect(server.ws_url(token)) as ws:
            for rid in chunk:
                await request(ws, rid, "delay", TEN_MINUTES)
            while len([r for r in chunk if r in answers]) < len(chunk):
                msg = await recv(ws, 15)
                rid = request_id_of(msg)
                if rid in chunk and rid not in answers:
                    answers[rid] = msg
    return answers


async def test_a_flooding_tenant_is_bounded_and_another_tenants_job_runs_at_once(start_server):
    # One waiting job of a tenant runs at once (--max-waiting-per-tenant 1), so the
    # flood's delays queue up against the queued bounds; another tenant's has its own slot.
    s = start_server("--workers", "2", "--max-connections-per-minute", "100000",
                     "--max-waiting-per-tenant", "1")
    per_user = 210  # the per-user bound is 200 queued; five users fill the tenant's 1,000
    accepted, refused = {}, {}
    for u in range(6):
        tok = s.token(f"flooder-{u}", "t-flood", permissions=())
        ids = [f"f{u}-{i}" for i in range(per_user if u < 5 else 10)]
        answers = await submit_by_reconnecting(s, tok, ids)
        for rid, msg in answers.items():
            if msg["type"] == "response":
                assert_queued(msg, rid)
                accepted.setdefault(u, []).append(rid)
            else:
                refused.setdefault(u, []).append(msg)
    counts = {u: len(accepted.get(u, [])) for u in range(6)}
    print(f"flood: accepted per user {counts}, refused {sum(len(v) for v in refused.values())}")
    # Exact counts: one job of the tenant runs, the other workers' room stays free, and
    # every other accepted job waits within the bounds (200 per user, 1,000 per tenant).
    assert counts[0] in (200, 201), counts  # its first job was leased at once
    assert all(counts[u] == 200 for u in range(1, 5)), counts
    assert counts[5] == 0, counts
    assert sum(counts.values()) <= 1001, counts
    # Users 0-3 stop at their own bound; user 4's 200 fill the tenant's 1,000 (checked
    # first), so its further requests and all of user 5's meet the tenant's bound.
    for u in range(6):
        limit, value = ("queued_per_user", 200) if u < 4 else ("queued_per_tenant", 1000)
        assert len(refused[u]) == (10 if u == 5 else per_user - counts[u]), (u, len(refused[u]))
        for msg in refused[u]:
            err = assert_error(msg, "RATE_LIMITED", request_id_of(msg), limit=limit, limit_value=value,
                               retryable=True)
            assert is_number(err["details"]["retry_after_ms"]) and err["details"]["retry_after_ms"] > 0, err

    # A resend of an accepted id is not refused, and a refused id was never stored.
    async with connect(s.ws_url(s.token("flooder-1", "t-flood", permissions=()))) as ws:
        rid = accepted[1][-1]
        assert_queued(await call(ws, rid, "delay", TEN_MINUTES), rid, resend=True)
        gone = refused[1][0]["error"]["request_id"]
        assert_error(await call(ws, "s", "subscribe", {"request_id": gone}), "NOT_FOUND", "s")

    # Another tenant's first job does not wait behind the backlog.
    async with connect(s.ws_url(s.token("bob", "t-other"))) as ws:
        t0 = time.monotonic()
        assert_queued(await call(ws, "quick", "delay", {"duration_ms": 1}), "quick")
        _, last = await until_terminal(ws, "quick", timeout=10)
        elapsed = time.monotonic() - t0
        assert last["type"] == "result" and last["result"]["success"] is True, last
        assert elapsed < 3.0, f"another tenant's 1 ms job took {elapsed:.2f} s behind the flood"


async def test_cancel_right_after_queued_always_ends_cancelled(start_server):
    s = start_server("--workers", "1", "--max-messages-per-second", "1000")
    seen = {"cancelled": 0, "cancelling": 0, "succeeded": 0}
    async with connect(s.ws_url(s.token("canceller", "t-cancel"))) as ws:
        for i in range(100):
            rid, cid = f"j{i}", f"c{i}"
            assert_queued(await call(ws, rid, "delay", {"duration_ms": 3, "steps": 1}), rid)
            await request(ws, cid, "cancel", {"request_id": rid})
            answer, terminal = None, None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while answer is None or terminal is None:
                assert loop.time() < deadline, f"round {i}: answer {answer}, terminal {terminal}"
                msg = await recv(ws, 15)
                who = request_id_of(msg)
                if who == cid:
                    answer = assert_success(msg, cid)
                elif who == rid and msg["type"] in ("result", "error"):
                    assert terminal is None, f"round {i}: a second terminal {msg}"
                    terminal = msg
            status = answer["status"]
            seen[status] += 1
            if status in ("cancelled", "cancelling"):
                assert_error(terminal, "CANCELLED", rid), f"round {i}: answered {status}, ended {terminal}"
            else:
                assert status == "succeeded", answer
                assert terminal["type"] == "result" and terminal["result"]["success"] is True, terminal
    print(f"cancel answers over 100 rounds: {seen}")
