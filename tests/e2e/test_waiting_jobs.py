"""Waiting handlers hold no thread (docs/handlers.md "Handlers that wait"): with the
default worker count, thousands of `delay` jobs run at once, each reporting progress,
while the server keeps a few dozen threads and bounded memory; then every one of them
is cancelled and ends CANCELLED."""
from __future__ import annotations

import asyncio
import os

from helpers_e2e import connect, request, recv, request_id_of, rss_kb, wait_until

CONNECTIONS = 4
PER_CONNECTION = 500  # 2,000 jobs: BENCHMARKS.md has the 10,000 figure (bench/waiting_fanout.py)
# Each waits 60 s in 20 steps: its first progress comes after 3 s, long before it ends.
DELAY = {"duration_ms": 60_000, "steps": 20}
LIMITS = ("--max-concurrent-requests", "2000", "--max-messages-per-second", "100000",
          "--max-queued-per-tenant", "0", "--max-queued-per-user", "0",
          "--max-running-per-tenant", "0")


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class Client:
    """One connection's requests and what came back for them."""

    def __init__(self, ws, prefix: str):
        self.ws = ws
        self.ids = [f"{prefix}-{i}" for i in range(PER_CONNECTION)]
        self.queued: set[str] = set()
        self.progressed: set[str] = set()
        self.terminal: dict[str, dict] = {}
        self.cancel_answers: dict[str, dict] = {}

    async def read(self):
        while True:
            msg = await recv(self.ws, 120)
            rid = request_id_of(msg)
            kind = msg["type"]
            if kind == "response" and msg["response"].get("status") == "queued":
                self.queued.add(rid)
            elif kind == "response" and rid and rid.startswith("cancel-"):
                self.cancel_answers[rid] = msg
            elif kind == "progress":
                self.progressed.add(rid)
            elif kind in ("result", "error"):
                self.terminal[rid] = msg
            else:
                raise AssertionError(f"unexpected message: {msg}")


async def test_thousands_of_waiting_delays_run_at_once_on_few_threads_then_all_cancel(start_server):
    s = start_server(*LIMITS)  # the default --workers: one per core
    pid = s.proc.pid
    total = CONNECTIONS * PER_CONNECTION
    peak = {"threads": thread_count(pid), "rss_kb": rss_kb(pid)}
    rss_idle = peak["rss_kb"]

    def sample():
        peak["threads"] = max(peak["threads"], thread_count(pid))
        peak["rss_kb"] = max(peak["rss_kb"], rss_kb(pid))

    sockets = [connect(s.ws_url(s.token(sub=f"user-{c}"))) for c in range(CONNECTIONS)]
    wss = [await sock.__aenter__() for sock in sockets]
    clients = [Client(ws, f"c{c}") for c, ws in enumerate(wss)]
    readers = [asyncio.create_task(cl.read()) for cl in clients]
    try:
        for cl in clients:
            for rid in cl.ids:
                await request(cl.ws, rid, "delay", DELAY)

        def all_progressed():
            return sum(len(cl.progressed) for cl in clients) == total
        await wait_until(all_progressed, 45, sample, "every job's first progress")
        sample()
        # All of them running at the same time: each has reported progress and none ended.
        assert sum(len(cl.queued) for cl in clients) == total
        assert not any(cl.terminal for cl in clients), [cl.terminal for cl in clients if cl.terminal][0]
        assert peak["threads"] < 64, f"{peak['threads']} threads for {total} waiting jobs"
        grown_mb = (peak["rss_kb"] - rss_idle) / 1024
        assert grown_mb < 200, f"RSS grew by {grown_mb:.0f} MB for {total} waiting jobs"

        for cl in clients:
            for rid in cl.ids:
                await request(cl.ws, f"cancel-{rid}", "cancel", {"request_id": rid})
        await wait_until(lambda: sum(len(cl.terminal) for cl in clients) == total, 30, None,
                         "every job's CANCELLED")
        for cl in clients:
            for rid in cl.ids:
                msg = cl.terminal[rid]
                assert msg["type"] == "error" and msg["error"]["code"] == "CANCELLED", msg
                answer = cl.cancel_answers.get(f"cancel-{rid}")
                assert answer and answer["response"]["status"] == "success", answer
                assert answer["response"]["data"]["status"] in ("cancelling", "cancelled"), answer
        for r in readers:
            assert not r.done(), r.exception()
    finally:
        for r in readers:
            r.cancel()
        for sock in sockets:
            await sock.__aexit__(None, None, None)


async def test_one_tenants_waiting_jobs_all_run_at_once_and_another_tenant_is_not_starved(
        start_server):
    # Default bounds with 2 worker threads: --max-running-per-tenant is 1, which is the
    # worker threads' share; waiting jobs have a per-tenant bound of their own.
    s = start_server("--workers", "2")
    async with connect(s.ws_url(s.token(sub="alice", tenant="t-a"))) as a, \
            connect(s.ws_url(s.token(sub="bob", tenant="t-b"))) as b:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        ids = [f"a{i}" for i in range(5)]
        for rid in ids:  # 4 s each, a progress every 200 ms
            await request(a, rid, "delay", {"duration_ms": 4000, "steps": 20})
        progressed: set[str] = set()
        while progressed != set(ids):
            msg = await recv(a, 10)
            if msg["type"] == "progress":
                progressed.add(request_id_of(msg))
            assert msg["type"] in ("response", "progress"), msg
        # All five progress at once: one at a time, the fifth would start after 16 s.
        assert loop.time() - t0 < 3.0, f"five delays of one tenant took {loop.time() - t0:.1f} s"
        # Another tenant's short delay runs beside them and ends long before them.
        t1 = loop.time()
        await request(b, "b1", "delay", {"duration_ms": 50})
        while True:
            msg = await recv(b, 10)
            if msg["type"] in ("result", "error"):
                break
        assert msg["type"] == "result" and request_id_of(msg) == "b1", msg
        assert loop.time() - t1 < 2.0
