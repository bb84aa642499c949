#!/usr/bin/env python3
"""Remote worker throughput: no-op jobs per second end to end.

Starts `build/streamer` on a free loopback port, one Python worker
(`python -m streamer_client.worker`) and one TypeScript worker (node, the built
`sdk/typescript/dist`), each serving its own no-op action, then submits a fixed
number of jobs per action through StreamerClient connections and reports, per
worker language, completed jobs/s (submit to result, end to end) and latency
percentiles. Bounded: `--jobs` jobs per language, `--timeout` seconds at most.

    .venv/bin/python bench/remote_workers.py --quick          # ~300 jobs per language
    .venv/bin/python bench/remote_workers.py --jobs 5000 --write bench/results/remote.json
    .venv/bin/python bench/remote_workers.py --jobs 2000 --store redis://127.0.0.1:19108/0 \
        --jsonl bench/results/raw/x.jsonl --label-suffix -redis   # what `make bench` runs
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sdk" / "python" / "src"))

from streamer_client import StreamerClient, StreamerError  # noqa: E402

SECRET = "bench-remote-workers"
TENANT = "bench"

PY_WORKER = """
from streamer_client import StreamerWorker
worker = StreamerWorker(concurrency=int(__import__("os").environ["CONCURRENCY"]))

@worker.handler("bench_noop_py")
async def noop(job):
    return {"ok": True}
"""

TS_WORKER = """
import { StreamerWorker } from %(dist)s;
const worker = new StreamerWorker({ url: process.env.URL, token: process.env.TOKEN, concurrency: Number(process.env.CONCURRENCY) });
worker.handle('bench_noop_ts', {}, async () => ({ ok: true }));
await worker.run();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mint(binary: Path, sub: str, permissions: str, actions: str | None = None) -> str:
    args = [str(binary), "token", "--jwt-secret", SECRET, "--sub", sub, "--tenant", TENANT,
            "--permissions", permissions, "--ttl", "3600"]
    if actions:
        args += ["--actions", actions]
    return subprocess.check_output(args, text=True, timeout=30).strip()


def start_server(binary: Path, data_dir: Path, port: int, log: Path, store: str | None) -> subprocess.Popen[bytes]:
    """Starts `serve` on the embedded SQLite store, or on ``store`` (a redis:// URL) when given."""
    flags = [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
             "--jwt-secret", SECRET, "--max-concurrent-requests", "64",
             # worker connections count against the per-connection message limit
             "--max-messages-per-second", "1000000",
             # one user keeps 240 jobs outstanding: the per-user and per-tenant queue bounds
             # would answer RATE_LIMITED whenever a worker falls behind by 200
             "--max-queued-per-user", "0", "--max-queued-per-tenant", "0", "--max-running-per-tenant", "0"]
    if store:
        flags += ["--store", store, "--artifact-secret", SECRET + "-artifacts"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(flags, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamer exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("streamer did not become ready")


async def wait_registered(client: StreamerClient, action: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.request(action, {}, timeout=10)
            return
        except StreamerError as e:
            if e.code != "INVALID_ACTION" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def run_jobs(url: str, token: str, action: str, jobs: int, clients: int, in_flight: int,
                   timeout: float) -> dict[str, float]:
    """Submits ``jobs`` jobs over ``clients`` connections, ``in_flight`` each; returns rates."""
    conns = [StreamerClient(endpoint=url, token=token, max_in_flight=in_flight) for _ in range(clients)]
    try:
        await wait_registered(conns[0], action)
        await asyncio.gather(*(c.request(action, {}, timeout=30) for c in conns for _ in range(5)))  # warm up
        latencies: list[float] = []

        async def one(c: StreamerClient) -> None:
            t0 = time.perf_counter()
            await c.request(action, {}, timeout=60)
            latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(conns[i % clients]) for i in range(jobs))), timeout)
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {"jobs": jobs, "seconds": round(elapsed, 3), "jobs_per_s": round(jobs / elapsed, 1),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


async def run_bench_driver(bench: Path, url: str, token: str, action: str, label: str, args) -> dict[str, float]:
    """Drives ``action`` with the C++ load generator (`streamer-bench async --action`), the
    client every other section of `make bench` uses: ``clients`` connections keeping
    ``in_flight`` jobs each (at most 60) unfinished for ``--duration`` seconds after a
    0.5 s warm-up. Appends its line to ``--jsonl`` itself; returns the rates."""
    probe = StreamerClient(endpoint=url, token=token)
    try:
        await wait_registered(probe, action)
    finally:
        await probe.close()
    cmd = [str(bench), "async", "--url", f"{url}?Authorization={token}", "--connections", str(args.clients),
           "--depth", str(min(args.in_flight, 60)), "--delay-ms", "0", "--steps", "1", "--action", action,
           "--warmup", "0.5", "--duration", str(args.duration), "--label", label]
    if args.jsonl:
        cmd += ["--out", str(args.jsonl)]
    out = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True,
                                  timeout=args.duration + 60, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"jobs_per_s": round(r["per_s"], 1), "p50_ms": round(r["p50_us"] / 1000, 2),
            "p99_ms": round(r["p99_us"] / 1000, 2), "errors": r.get("errors", 0)}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / os.environ.get("BUILD_DIR", "build") / "streamer")
    ap.add_argument("--quick", action="store_true", help="300 jobs per language")
    ap.add_argument("--jobs", type=int, default=2000, help="jobs per language (default 2000)")
    ap.add_argument("--clients", type=int, default=4, help="client connections (default 4)")
    ap.add_argument("--in-flight", type=int, default=64, help="requests in flight per client (default 64)")
    ap.add_argument("--concurrency", type=int, default=64, help="each worker's concurrency (default 64)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed per language (default 120)")
    ap.add_argument("--only", default="python,typescript", help="worker languages to run")
    ap.add_argument("--write", type=Path, help="also write the JSON result here")
    ap.add_argument("--store", help="job store URL (redis://...); default the embedded SQLite store")
    ap.add_argument("--jsonl", type=Path, help="append one bench/report.py line per language "
                    "(label remote-<language><suffix>:noop, per_s, p50_us, p99_us)")
    ap.add_argument("--label-suffix", default="", help="appended to the target of --jsonl labels")
    ap.add_argument("--driver", choices=("python", "bench"), default="python",
                    help="submit with Python StreamerClients (a fixed --jobs) or with build/streamer-bench "
                         "(the load generator of make bench, for --duration seconds)")
    ap.add_argument("--duration", type=float, default=5, help="seconds measured with --driver bench (default 5)")
    args = ap.parse_args()
    jobs = 300 if args.quick else args.jobs
    langs = [x.strip() for x in args.only.split(",") if x.strip()]
    node = shutil.which("node")
    dist = ROOT / "sdk" / "typescript" / "dist" / "index.js"
    if "typescript" in langs and (node is None or not dist.is_file()):
        print("skipping typescript: needs node and sdk/typescript/dist (npm run build)", file=sys.stderr)
        langs.remove("typescript")

    work = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    port = free_port()
    url = f"ws://127.0.0.1:{port}/production"
    server = start_server(args.binary, work / "data", port, work / "server.log", args.store)
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, object] = {"scenario": "remote_workers", "store": args.store or "sqlite",
                                  "clients": args.clients,
                                  "in_flight": args.in_flight, "worker_concurrency": args.concurrency}
    try:
        client_token = mint(args.binary, "bench-client", "read,write")
        for lang in langs:
            action = "bench_noop_py" if lang == "python" else "bench_noop_ts"
            env = {**os.environ, "URL": url, "TOKEN": mint(args.binary, f"bench-{lang}", "worker", action),
                   "CONCURRENCY": str(args.concurrency)}
            if lang == "python":
                (work / "bench_py_worker.py").write_text(PY_WORKER)
                env["PYTHONPATH"] = f"{ROOT / 'sdk' / 'python' / 'src'}{os.pathsep}{work}"
                env["STREAMER_WORKER_TOKEN"] = env["TOKEN"]
                cmd = [sys.executable, "-m", "streamer_client.worker", "bench_py_worker:worker", "--url", url,
                       "--log-level", "WARNING"]
            else:
                (work / "bench_ts_worker.mjs").write_text(TS_WORKER % {"dist": json.dumps(dist.as_uri())})
                cmd = [node or "node", str(work / "bench_ts_worker.mjs")]
            procs.append(subprocess.Popen(cmd, cwd=work, env=env))
            label = f"remote-{lang}{args.label_suffix}:noop"
            if args.driver == "bench":
                results[lang] = await run_bench_driver(args.binary.parent / "streamer-bench", url, client_token,
                                                       action, label, args)
            else:
                results[lang] = await run_jobs(url, client_token, action, jobs, args.clients, args.in_flight,
                                               args.timeout)
            print(f"{lang:10s} worker: {results[lang]}", file=sys.stderr)
            if args.jsonl and args.driver == "python":
                r = results[lang]
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps({"label": label, "per_s": r["jobs_per_s"],
                                        "p50_us": r["p50_ms"] * 1000, "p99_us": r["p99_ms"] * 1000,
                                        "jobs": r["jobs"], "seconds": r["seconds"]}) + "\n")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))
    if args.write:
        args.write.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
