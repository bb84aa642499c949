"""Chaos on the scale-out layout on the Redis store: a primary, two replicas and three
Sentinels; 3 gateways (`serve --workers 0`) and 3 `streamer worker` processes, each
with a data dir of its own, all on `--store redis-sentinel://…`; clients spread over
the gateways. A process is killed (or frozen) under load; the oracle over the
clients' logs: every request that got `queued` ends with exactly one terminal outcome
delivered to its client, after a resubscribe where its gateway died. Each scenario is
bounded (client deadlines well under 2 minutes) and its load small."""
from __future__ import annotations

import asyncio
import json
import re
import signal
import time

import websockets

from helpers_e2e import connect, send
from redis_rig import (ARTIFACT_SECRET, RedisServer, redis_server, scale_out, sentinel_rig,  # noqa: F401 (fixtures)
                       start_worker)
from test_report_helpers import report_payload, run_report, seed, target_of
from test_scaleout import admitted

DEADLINE_S = 60


async def client(rig, index: int, rids: list[str], payload: dict, started: asyncio.Event) -> dict:
    """Submits rids through gateway `index`, follows them to their ends, and on a lost
    connection subscribes to the unfinished ones through the next live gateway. Returns
    per rid: whether `queued` came, and every terminal message delivered."""
    log = {rid: {"queued": False, "terminals": []} for rid in rids}
    token = rig.gateways[0].token(sub=f"user-{index}")
    attempt = 0
    submitted = False
    deadline = time.monotonic() + DEADLINE_S
    while any(not v["terminals"] for v in log.values()) and time.monotonic() < deadline:
        gw = rig.alive_gateway(index + attempt)
        try:
            async with connect(gw.ws_url(token)) as ws:
                if not submitted:
                    for rid in rids:
                        await send(ws, {"id": rid, "action": "delay", "payload": payload})
                    submitted = True
                else:
                    for rid in [r for r, v in log.items() if not v["terminals"]]:
                        await send(ws, {"id": f"sub-{attempt}-{rid}", "action": "subscribe",
                                        "payload": {"request_id": rid}})
                while any(not v["terminals"] for v in log.values()):
                    left = deadline - time.monotonic()
                    msg = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
                    body = msg.get(msg.get("type")) or {}
                    rid = body.get("request_id")
                    if msg["type"] == "progress":
                        started.set()
                    if rid not in log:
                        continue
                    if msg["type"] == "response" and body.get("status") == "queued":
                        log[rid]["queued"] = True
                    elif msg["type"] in ("result", "error"):
                        log[rid]["terminals"].append(msg)
        except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError):
            attempt += 1
            await asyncio.sleep(0.1)
    return log


def lost_in_failover(msg: dict) -> bool:
    return (msg["type"] == "error" and msg["error"]["code"] == "INTERNAL_ERROR"
            and msg["error"]["details"].get("reason") == "lost_in_failover" and msg["error"]["details"]["retryable"])


def check_oracle(logs: list[dict], allow_lost=False) -> list[dict]:
    """Every queued request has exactly one terminal: a successful result (or, where a
    failover may lose writes, the retryable lost_in_failover error). Returns the
    results."""
    results = []
    for log in logs:
        for rid, v in log.items():
            assert v["queued"], (rid, v)  # each was accepted before any kill
            assert len(v["terminals"]) == 1, (rid, v["terminals"])
            t = v["terminals"][0]
            if allow_lost and lost_in_failover(t):
                continue
            assert t["type"] == "result" and t["result"]["success"], (rid, t)
            results.append(t)
    return results


async def run_load(rig, clients=3, per_client=6, payload=None, chaos=None):
    payload = payload or {"duration_ms": 1500, "steps": 6}
    started = asyncio.Event()
    tasks = [asyncio.create_task(client(rig, i, [f"c{i}-r{j}" for j in range(per_client)], payload, started))
             for i in range(clients)]
    await asyncio.wait_for(started.wait(), 30)
    if chaos:
        await chaos()
    return await asyncio.gather(*tasks)


def stored_jobs(rig) -> dict[str, dict]:
    """Request id -> the job hash's fields (attempts, fence, status), read on the primary."""
    out = {}
    for key in rig.cli("--scan", "--pattern", "s:*:j:*").split():
        fields = rig.cli("HMGET", key, "r", "att", "fence", "st").split("\n")
        out[fields[0]] = {"att": int(fields[1]), "fence": int(fields[2]), "st": fields[3]}
    return out


def busiest_worker(rig):
    """The worker process holding the most running jobs (the store's lease holders, whose
    ids are `host:pid:nonce`): one worker may have claimed every job of the load, so the
    victim of a kill or freeze must be one that holds some."""
    held: dict[int, int] = {}
    for key in rig.cli("--scan", "--pattern", "s:*:j:*").split():
        st, own = (rig.cli("HMGET", key, "st", "own").split("\n") + ["", ""])[:2]
        if st == "1" and own.count(":") >= 2:
            pid = int(own.split(":")[1])
            held[pid] = held.get(pid, 0) + 1
    by_pid = {w.proc.pid: w for w in rig.workers}
    pid = max((p for p in held if p in by_pid), key=lambda p: held[p], default=None)
    return by_pid[pid] if pid is not None else rig.workers[0]


def stale_refusals(log_text: str) -> int:
    return len(re.findall(r'"event":"stale_write_refused"', log_text))


async def test_kill9_of_a_worker_under_load_loses_nothing(scale_out):
    rig = scale_out()

    async def kill_worker():
        busiest_worker(rig).kill()

    results = check_oracle(await run_load(rig, chaos=kill_worker))
    assert len(results) == 18
    assert any(r["result"]["metadata"]["attempts"] >= 2 for r in results), "no job was re-run"


async def test_kill9_of_a_gateway_under_load_loses_nothing(scale_out):
    rig = scale_out()

    async def kill_gateway():
        rig.kill_gateway(0)

    assert len(check_oracle(await run_load(rig, chaos=kill_gateway))) == 18


async def test_kill9_of_the_redis_primary_under_load_sentinel_failover(scale_out, sentinel_rig):
    rig = scale_out()
    old = sentinel_rig.master_port()

    async def kill_primary():
        sentinel_rig.kill_primary()

    logs = await run_load(rig, payload={"duration_ms": 4000, "steps": 8}, chaos=kill_primary)
    # With --redis-wait-replicas 1 every `queued` and outcome reached a replica first;
    # a write Sentinel's pick had not received comes back as lost_in_failover, never as silence.
    check_oracle(logs, allow_lost=True)
    assert sentinel_rig.master_port() != old  # a replica was promoted
    assert any("redis_bus_resync" in g.log_text() for g in rig.gateways)


async def test_a_worker_frozen_past_its_lease_has_every_stale_write_refused(scale_out):
    rig = scale_out(workers=2)
    frozen = None

    async def freeze_then_thaw():
        nonlocal frozen
        frozen = busiest_worker(rig)
        frozen.signal(signal.SIGSTOP)
        await asyncio.sleep(rig.lease_ms / 1000 + 1.5)  # its leases lapse; the other worker takes them
        frozen.signal(signal.SIGCONT)

    results = check_oracle(await run_load(rig, clients=2, payload={"duration_ms": 2500, "steps": 10},
                                          chaos=freeze_then_thaw))
    moved = [r for r in results if r["result"]["metadata"]["attempts"] >= 2]
    assert moved, "no job moved to the other worker"
    # The thawed attempts tried to renew, report progress or finish: each was refused...
    deadline = time.monotonic() + 10
    while stale_refusals(frozen.log_text()) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert stale_refusals(frozen.log_text()) >= 1, frozen.log_text()[-3000:]
    # ...and none was accepted: each recorded outcome is that of the job's latest claim.
    stored = stored_jobs(rig)
    for r in results:
        assert r["result"]["metadata"]["attempts"] == stored[r["result"]["request_id"]]["att"], (r, stored)


async def test_killing_the_pubsub_connections_under_load_loses_no_terminal(scale_out):
    rig = scale_out()

    async def kill_pubsub():
        # CLIENT KILL TYPE pubsub, sparing the Sentinels' own hello subscriptions (killing
        # them makes the Sentinels see the primary as down and fail over: another scenario).
        for _ in range(3):
            for line in rig.cli("CLIENT", "LIST", "TYPE", "pubsub").splitlines():
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                if not fields.get("name", "").startswith("sentinel-"):
                    rig.cli("CLIENT", "KILL", "ID", fields["id"])
            await asyncio.sleep(0.7)

    assert len(check_oracle(await run_load(rig, chaos=kill_pubsub))) == 18
    assert all(g.log_text().count("redis_bus_resync") >= 3 for g in rig.gateways)
    assert not any("redis_failover_detected" in g.log_text() for g in rig.gateways)  # no failover meanwhile


async def test_a_cancel_through_one_gateway_stops_a_job_followed_on_another_within_250ms(scale_out):
    rig = scale_out()
    a, b = rig.gateways[0], rig.gateways[1]
    token = a.token()
    async with connect(b.ws_url(token)) as on_b, connect(a.ws_url(token)) as on_a:
        await send(on_b, {"id": "long", "action": "delay", "payload": {"duration_ms": 30000, "steps": 300}})
        while True:  # running on some worker: progress arrives through gateway B
            msg = json.loads(await asyncio.wait_for(on_b.recv(), 20))
            if msg["type"] == "progress":
                break
        sent = time.monotonic()
        await send(on_a, {"id": "c", "action": "cancel", "payload": {"request_id": "long"}})
        while True:
            msg = json.loads(await asyncio.wait_for(on_b.recv(), 10))
            if msg["type"] in ("result", "error"):
                break
        took = time.monotonic() - sent
    assert msg["type"] == "error" and msg["error"]["code"] == "CANCELLED", msg
    assert took < 0.25, f"cancel took {took * 1000:.0f} ms"


async def test_an_artifact_made_by_a_worker_downloads_through_every_gateway(scale_out):
    rig = scale_out()
    for w in rig.workers:  # each worker reads its own copy of the dataset
        seed(w.data_dir, "tenant-a", 2000)
    gw = rig.gateways[1]
    _, final = await run_report(gw, gw.token(tenant="tenant-a"), report_payload(fmt="csv"))
    assert final["type"] == "result", final
    url = final["result"]["data"]["url"]
    bodies = []
    for g in rig.gateways:
        status, _, body = g.http_get(target_of(url))
        assert status == 200 and body, (g.port, status, body[:200])
        bodies.append(body)
    assert bodies[0] == bodies[1] == bodies[2]


async def test_150_connections_from_one_address_over_3_gateways_admit_100(scale_out):
    rig = scale_out(workers=1)
    tok = rig.gateways[0].token()
    results = []
    for batch in range(15):  # 150 attempts, spread over the 3 gateways, 10 at a time
        urls = [rig.gateways[(batch * 10 + i) % 3].ws_url(tok) for i in range(10)]
        results += await asyncio.gather(*(admitted(u) for u in urls))
    assert sum(results) == 100, f"{sum(results)} of 150 admitted"


async def test_50_identical_concurrent_submits_through_3_gateways_create_one_job(scale_out):
    rig = scale_out(workers=2)
    token = rig.gateways[0].token()

    async def submit(i: int):
        async with connect(rig.gateways[i % 3].ws_url(token)) as ws:
            await send(ws, {"id": "same", "action": "delay", "payload": {"duration_ms": 1500, "steps": 3}})
            answers = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                body = msg.get(msg.get("type")) or {}
                if body.get("request_id") != "same":
                    continue
                answers.append(msg)
                if msg["type"] in ("result", "error"):
                    return answers

    all_answers = await asyncio.gather(*(submit(i) for i in range(50)))
    outcomes = {json.dumps(a[-1]["result"], sort_keys=True) for a in all_answers}
    assert len(outcomes) == 1, outcomes  # all 50 clients see the same outcome
    # One submit created the job; the others found it (queued "already accepted", or its outcome).
    created = [a for a in all_answers if a[0]["type"] == "response" and "already" not in a[0]["response"]["message"]]
    assert len(created) == 1, [a[0] for a in all_answers]
    assert list(stored_jobs(rig)) == ["same"]  # one job in the store
    assert stored_jobs(rig)["same"]["att"] == 1  # run once


async def test_a_request_lost_by_a_failover_gets_a_retryable_error_not_silence(redis_server, start_server,
                                                                              start_worker, tmp_path):
    # No Sentinel: the store's server first syncs from an empty server (its data is
    # replaced, as on a replica that never received the request), then is promoted.
    # Its master_replid changes while every connection stays up.
    empty = RedisServer(tmp_path)
    try:
        flags = ("--store", redis_server.url, "--artifact-secret", ARTIFACT_SECRET, "--lease-ttl-ms", "1500")
        gw = start_server("--workers", "0", *flags)
        (tmp_path / "worker").mkdir()
        start_worker(tmp_path / "worker", "", *flags)
        async with connect(gw.ws_url(gw.token())) as ws:
            await send(ws, {"id": "doomed", "action": "delay", "payload": {"duration_ms": 30000, "steps": 300}})
            while json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] != "progress":
                pass
            redis_server.cli("REPLICAOF", "127.0.0.1", str(empty.port))
            deadline = time.monotonic() + 10
            while "master_link_status:up" not in redis_server.cli("INFO", "replication"):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            redis_server.cli("REPLICAOF", "NO", "ONE")
            promoted = time.monotonic()
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] in ("result", "error"):
                    break
        assert lost_in_failover(msg) and msg["error"]["request_id"] == "doomed", msg
        assert time.monotonic() - promoted < 5
        assert "redis_failover_detected" in gw.log_text()
    finally:
        empty.stop()
