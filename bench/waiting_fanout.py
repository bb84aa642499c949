#!/usr/bin/env python3
"""Waiting jobs at scale: N concurrent `delay` jobs (60 s each, 20 steps) on a server
with the default worker count, over a few connections. Reports the server's threads
and RSS (idle and at the peak), the time until every job has reported progress (all
running at once), the server's CPU while they wait, and the time until every one has
ended CANCELLED after a cancel of each. Bounded: at most 20,000 jobs, every wait has a
deadline, and the server it starts is stopped on exit.

    .venv/bin/python bench/waiting_fanout.py [--jobs 10000] [--connections 10]
        [--binary build/streamer] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

SECRET = "bench-waiting-fanout-secret"
DELAY = {"duration_ms": 60_000, "steps": 20}  # first progress after 3 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rid_of(msg: dict):
    body = msg.get(msg.get("type"))
    return body.get("request_id") if isinstance(body, dict) else None


async def run(args) -> dict:
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="waiting-fanout-")
    per_conn = -(-args.jobs // args.connections)
    flags = ["serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir, "--jwt-secret", SECRET,
             "--enable-delay", "--log-level", "warn",
             "--max-concurrent-requests", str(2 * per_conn + 10), "--max-messages-per-second", "1000000",
             "--max-queued-per-tenant", "0", "--max-queued-per-user", "0", "--max-running-per-tenant", "0"]
    proc = subprocess.Popen([args.binary, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        pid = proc.pid
        token = lambda user: subprocess.check_output(  # noqa: E731
            [args.binary, "token", "--jwt-secret", SECRET, "--sub", user, "--tenant", "bench",
             "--permissions", "read,write"], text=True).strip()
        out = {"jobs": args.jobs, "connections": args.connections, "idle_threads": threads(pid),
               "idle_rss_mib": round(rss_mib(pid), 1)}
        progressed: set[str] = set()
        ended: dict[str, str] = {}
        conns = [await websockets.connect(f"ws://127.0.0.1:{port}/production?Authorization={token(f'u{c}')}",
                                          max_size=None, compression=None, ping_interval=None)
                 for c in range(args.connections)]
        ids = [[f"c{c}-{i}" for i in range(min(per_conn, args.jobs - c * per_conn))]
               for c in range(args.connections)]

        async def reader(ws):
            async for raw in ws:
                msg = json.loads(raw)
                rid = rid_of(msg)
                if msg["type"] == "progress":
                    progressed.add(rid)
                elif msg["type"] in ("result", "error"):
                    ended[rid] = msg[msg["type"]].get("code", "result")

        readers = [asyncio.create_task(reader(ws)) for ws in conns]
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        for ws, mine in zip(conns, ids):
            for rid in mine:
                await ws.send(json.dumps({"id": rid, "action": "delay", "payload": DELAY}))
        out["submit_s"] = round(time.monotonic() - t0, 2)
        peak_threads, peak_rss = 0, 0.0
        deadline = t0 + 50
        while len(progressed) < args.jobs and time.monotonic() < deadline:
            peak_threads, peak_rss = max(peak_threads, threads(pid)), max(peak_rss, rss_mib(pid))
            await asyncio.sleep(0.05)
        out["all_progressed_s"] = round(time.monotonic() - t0, 2) if len(progressed) == args.jobs else None
        out["progressed"] = len(progressed)
        out["ended_before_cancel"] = len(ended)
        # A steady window with every job waiting: CPU the server spends on them.
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(args.window)
        peak_threads, peak_rss = max(peak_threads, threads(pid)), max(peak_rss, rss_mib(pid))
        out["waiting_cpu_percent"] = round(100 * (cpu_seconds(pid) - cpu1) / (time.monotonic() - t1), 1)
        out["peak_threads"], out["peak_rss_mib"] = peak_threads, round(peak_rss, 1)
        out["rss_per_job_kib"] = round((peak_rss - out["idle_rss_mib"]) * 1024 / args.jobs, 2)
        t2 = time.monotonic()
        for ws, mine in zip(conns, ids):
            for rid in mine:
                await ws.send(json.dumps({"id": f"x-{rid}", "action": "cancel", "payload": {"request_id": rid}}))
        while len(ended) < args.jobs and time.monotonic() < t2 + 60:
            await asyncio.sleep(0.05)
        out["all_cancelled_s"] = round(time.monotonic() - t2, 2)
        out["cancelled"] = sum(1 for code in ended.values() if code == "CANCELLED")
        out["submit_to_cancelled_cpu_s"] = round(cpu_seconds(pid) - cpu0, 1)
        for r in readers:
            r.cancel()
        for ws in conns:
            await ws.close()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--window", type=float, default=5.0, help="seconds of steady waiting measured for CPU")
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "build", "streamer"))
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if not 1 <= args.jobs <= 20_000 or not 1 <= args.connections <= 100:
        ap.error("--jobs 1..20000, --connections 1..100")
    out = asyncio.run(run(args))
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0 if out["cancelled"] == args.jobs and out["progressed"] == args.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
