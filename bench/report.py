#!/usr/bin/env python3
"""Aggregates streamer-bench JSON lines into medians and spreads, checks the targets
listed in BENCHMARKS.md, prints the table and writes bench/results/<stamp>.json and latest.json.

  report.py [--quick 0|1] [--write DIR] RAW.jsonl     table + JSON
  report.py --median TARGET:CASE RAW.jsonl            median per_s of one case
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_probe import SENT_ONLY  # noqa: E402

FIELDS = ["per_s", "progress_per_s", "p50_us", "p99_us", "p999_us", "server_cpu_s_per_100k",
          "held", "rss_per_conn_kib", "offered_per_s", "errors", "connect_failures",
          "redis_cpu_us_per_job", "redis_calls_per_job", "redis_calls_per_s", "client_cmds_per_job",
          "us_per_round"]


def load(path):
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                if "redis_calls" in r and r.get("jobs") and "client_cmds_per_job" not in r:
                    r["client_cmds_per_job"] = sum(v for k, v in r["redis_calls"].items()
                                                   if k in SENT_ONLY) / r["jobs"]
                runs.setdefault(r["label"], []).append(r)
    return runs


def summarize(runs):
    """{label: {field: {median, min, max, n}}} over repeated runs."""
    out = {}
    for label, rs in runs.items():
        s = {}
        for f in FIELDS:
            vals = [r[f] for r in rs if isinstance(r.get(f), (int, float)) and r[f] >= 0]
            if vals:
                s[f] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                        "n": len(vals)}
        scripts = [r["scripts_per_job"] for r in rs if r.get("scripts_per_job")]
        if scripts:
            s["scripts_per_job"] = scripts[-1]
        errs = [r["last_error"] for r in rs if r.get("last_error")]
        if errs:
            s["last_error"] = errs[-1][:200]
        out[label] = s
    return out


def med(summary, label, field):
    return summary.get(label, {}).get(field, {}).get("median")


def fmt(summary, label, field, unit="", scale=1.0):
    v = summary.get(label, {}).get(field)
    if not v:
        return "–"
    m, lo, hi = v["median"] * scale, v["min"] * scale, v["max"] * scale
    if v["n"] == 1:
        return f"{m:,.0f}{unit}" if m >= 100 else f"{m:,.2f}{unit}"
    if m >= 100:
        return f"{m:,.0f}{unit} ({lo:,.0f}–{hi:,.0f})"
    return f"{m:,.2f}{unit} ({lo:,.2f}–{hi:,.2f})"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def targets(s):
    """The issue's targets as (name, measured text, goal text, met or None)."""
    out = []
    h, ws, echo = med(s, "streamer:health-100", "per_s"), med(s, "ws:health-100", "per_s"), \
        med(s, "echo:health-100", "per_s")
    r = ratio(h, ws)
    out.append(("health req/s vs Node ws (100 conns)", f"{r:.2f}×" if r else "–", "≥ 3×",
                None if r is None else r >= 3))
    r = ratio(h, echo)
    out.append(("health req/s vs Beast echo (100 conns)", f"{r:.0%}" if r else "–", "≥ 70%",
                None if r is None else r >= 0.7))
    a, b = med(s, "streamer:async", "per_s"), med(s, "bullmq:async", "per_s")
    r = ratio(a, b)
    out.append(("async jobs/s vs BullMQ", f"{r:.2f}×" if r else "–", "≥ 2×",
                None if r is None else r >= 2))
    held, per = med(s, "streamer:idle", "held"), med(s, "streamer:idle", "rss_per_conn_kib")
    ok = None if held is None else (held >= 18000 and per is not None and per <= 4.0)
    out.append(("idle connections held / RSS each",
                "–" if held is None else f"{held:,.0f} / {per:.2f} KiB", "18,000 at ≤ 4 KiB", ok))
    p99, echo_p99 = med(s, "streamer:open-0.5", "p99_us"), med(s, "echo:open-0.5", "p99_us")
    measured = "–" if p99 is None else f"{p99 / 1000:.3f} ms"
    if p99 is not None and echo_p99 is not None:
        measured += f" (Beast echo at the same rate: {echo_p99 / 1000:.3f} ms)"
    out.append(("health p99 at 50% of max throughput (100 conns)", measured, "< 1 ms",
                None if p99 is None else p99 < 1000))
    out += redis_targets(s)
    out += remote_targets(s)
    out += store_targets(s)
    return out


# Remote workers (bench/run.sh target `remote`): (Streamer worker, BullMQ worker it is held against).
REMOTE_PAIRS = (("python", "python"), ("typescript", "node"))


def remote_targets(s):
    """Remote StreamerWorkers against BullMQ's own workers (same jobs, concurrency, in flight;
    the Redis-store row on a Redis of the same configuration as BullMQ's), and the fan-out
    on the default worker count against the Node ws peer."""
    out = []
    for ours, theirs in REMOTE_PAIRS:
        b = med(s, f"bullmq-{theirs}-worker:noop", "per_s")
        for suffix, store in (("", "embedded store"), ("-redis", "Redis store")):
            a = med(s, f"remote-{ours}{suffix}:noop", "per_s")
            if a is None and b is None:
                continue
            r = ratio(a, b)
            out.append((f"remote {ours} worker no-op jobs/s ({store}) vs BullMQ {theirs} worker",
                        f"{r:.2f}×" if r else "–", "≥ 1×", None if r is None else r >= 1))
    f, w = med(s, "streamer:fanout-waiting", "progress_per_s"), med(s, "ws:fanout", "progress_per_s")
    if f is not None or w is not None:
        r = ratio(f, w)
        out.append(("fan-out progress msgs/s, waiting `delay` on the default workers, vs Node ws",
                    f"{r:.2f}×" if r else "–", "≥ 1×", None if r is None else r >= 1))
    return out


def remote_table(s):
    lines = []
    row = lambda *c: lines.append("| " + " | ".join(c) + " |")
    row("Remote workers, no-op jobs end to end", "jobs/s", "p50 / p99 µs submit→result")
    row("---", "---", "---")
    for label, title in [("remote-python:noop", "Streamer + Python StreamerWorker (embedded store)"),
                         ("remote-typescript:noop", "Streamer + TS StreamerWorker (embedded store)"),
                         ("remote-python-redis:noop", "Streamer + Python StreamerWorker (Redis store)"),
                         ("remote-typescript-redis:noop", "Streamer + TS StreamerWorker (Redis store)"),
                         ("bullmq-python-worker:noop", "BullMQ Python worker (PyPI bullmq)"),
                         ("bullmq-node-worker:noop", "BullMQ Node worker")]:
        row(title, fmt(s, label, "per_s"), f"{fmt(s, label, 'p50_us')} / {fmt(s, label, 'p99_us')}")
    return "\n".join(lines)


def store_targets(s):
    """A tenant's backlog of 900 queued jobs against none: what one commit round of 64
    submits that wait costs the SQLite store (bench/store_rounds.cpp)."""
    a, b = med(s, "store:backlog-900", "us_per_round"), med(s, "store:backlog-0", "us_per_round")
    if a is None and b is None:
        return []
    r = ratio(a, b)
    got = f"{r:.2f}× ({a:,.0f} vs {b:,.0f} µs)" if r else "–"
    return [("SQLite commit round of 64 waiting submits, 900 queued vs none", got, "≤ 2×",
             None if r is None else r <= 2)]


def redis_targets(s):
    """Redis mode (bench/run.sh target `redis`): one gateway + one worker on an AOF
    everysec Redis, against the BullMQ peer on a fresh Redis of the same configuration."""
    if "streamer-redis:async" not in s:
        return []
    out = []
    a, b = med(s, "streamer-redis:async", "per_s"), med(s, "bullmq-redis:async", "per_s")
    r = ratio(a, b)
    out.append(("Redis mode jobs/s vs BullMQ on the same Redis (AOF everysec)", f"{r:.2f}×" if r else "–",
                "≥ 1.5×", None if r is None else r >= 1.5))
    cpu = med(s, "streamer:redis-async", "redis_cpu_us_per_job")
    bcpu = med(s, "bullmq:redis-async", "redis_cpu_us_per_job")
    measured = "–" if cpu is None else f"{cpu:.0f} µs" + ("" if bcpu is None else f" (BullMQ: {bcpu:.0f} µs)")
    out.append(("Redis CPU per job (delay 0 ms, one progress update)", measured, "≤ 120 µs",
                None if cpu is None else cpu <= 120))
    cmds = med(s, "streamer:redis-async", "client_cmds_per_job")
    inner = med(s, "streamer:redis-async", "redis_calls_per_job")
    measured = "–" if cmds is None else f"{cmds:.2f}" + ("" if inner is None else f" ({inner:.0f} counting commands inside scripts)")
    out.append(("Redis commands sent per job", measured, "≤ 6", None if cmds is None else cmds <= 6))
    idle = med(s, "streamer:redis-idle", "redis_calls_per_s")
    out.append(("idle gateway + worker: Redis commands/s (inside scripts included)",
                "–" if idle is None else f"{idle:.1f}", "a few per process (blocking waits, no polling)",
                None if idle is None else idle <= 10))
    p99 = med(s, "streamer-redis:open-0.5", "p99_us")
    out.append(("submit → start p99 at 50% load (Redis mode)", "–" if p99 is None else f"{p99 / 1000:.2f} ms",
                "< 5 ms", None if p99 is None else p99 < 5000))
    return out


def redis_table(s):
    lines = []
    row = lambda *c: lines.append("| " + " | ".join(c) + " |")
    row("Redis mode (AOF everysec)", "Streamer gateway + worker", "ws+BullMQ")
    row("---", "---", "---")
    row("async delay 0 ms jobs/s end to end", fmt(s, "streamer-redis:async", "per_s"),
        fmt(s, "bullmq-redis:async", "per_s"))
    row("  p50 / p99 request→result µs",
        f"{fmt(s, 'streamer-redis:async', 'p50_us')} / {fmt(s, 'streamer-redis:async', 'p99_us')}",
        f"{fmt(s, 'bullmq-redis:async', 'p50_us')} / {fmt(s, 'bullmq-redis:async', 'p99_us')}")
    row("  Redis CPU µs per job", fmt(s, "streamer:redis-async", "redis_cpu_us_per_job"),
        fmt(s, "bullmq:redis-async", "redis_cpu_us_per_job"))
    row("  Redis commands per job, those inside scripts included", fmt(s, "streamer:redis-async", "redis_calls_per_job"),
        fmt(s, "bullmq:redis-async", "redis_calls_per_job"))
    row("  Redis commands sent per job (script calls, blocking waits, WAIT)",
        fmt(s, "streamer:redis-async", "client_cmds_per_job"), fmt(s, "bullmq:redis-async", "client_cmds_per_job"))
    row("  the same in a 2 s MONITOR sample", fmt(s, "streamer:redis-monitor", "client_cmds_per_job"), "–")
    row("  gateway + worker CPU s per 100k jobs", fmt(s, "streamer-redis:async-procs", "server_cpu_s_per_100k"),
        "–")
    row("submit → start (first progress or result) p50 / p99 µs at 50% load",
        f"{fmt(s, 'streamer-redis:open-0.5', 'p50_us')} / {fmt(s, 'streamer-redis:open-0.5', 'p99_us')}", "–")
    row("idle gateway + worker: Redis commands/s", fmt(s, "streamer:redis-idle", "redis_calls_per_s"), "–")
    return "\n".join(lines)


# Table columns: Streamer, its gateway over a trivial service (bench/gateway_ceiling.cpp),
# the peers, and the bare Beast echo.
COLUMNS = ("streamer", "gateway", "ws", "bullmq", "echo")


def table(s):
    lines = []
    row = lambda *c: lines.append("| " + " | ".join(c) + " |")
    row("Scenario", "Streamer", "Gateway only", "Node ws", "ws+BullMQ", "Beast echo")
    row("---", "---", "---", "---", "---", "---")
    for case, title in [("health-100", "health req/s, 100 conns"),
                        ("health-1000", "health req/s, 1,000 conns")]:
        row(title, *(fmt(s, f"{t}:{case}", "per_s") for t in COLUMNS))
        row(f"  p50 / p99 µs, {case.split('-')[1]} conns (closed loop)",
            *(f"{fmt(s, f'{t}:{case}', 'p50_us')} / {fmt(s, f'{t}:{case}', 'p99_us')}"
              if f"{t}:{case}" in s else "–" for t in COLUMNS))
        row(f"  server CPU s per 100k, {case.split('-')[1]} conns",
            *(fmt(s, f"{t}:{case}", "server_cpu_s_per_100k") for t in COLUMNS))
    def open_cell(label):
        if label not in s:
            return "–"
        return (f"{fmt(s, label, 'per_s')}; {fmt(s, label, 'p50_us')} / {fmt(s, label, 'p99_us')} / "
                f"{fmt(s, label, 'p999_us')}")
    cases = sorted({k.split(":", 1)[1] for k in s if ":open" in k})
    for case in cases:
        conns = "1,000" if case.startswith("open1000") else "100"
        offered = next((med(s, f"{t}:{case}", "offered_per_s") for t in ("streamer", "gateway", "ws", "echo")
                        if f"{t}:{case}" in s), 0) or 0
        row(f"health open loop {offered:,.0f}/s offered, {conns} conns: achieved; p50 / p99 / p99.9 µs",
            *(open_cell(f"{t}:{case}") for t in COLUMNS))
    row("async delay 0 ms jobs/s end to end", fmt(s, "streamer:async", "per_s"), "–", "–",
        fmt(s, "bullmq:async", "per_s"), "–")
    row("  async p99 request→result µs", fmt(s, "streamer:async", "p99_us"), "–", "–",
        fmt(s, "bullmq:async", "p99_us"), "–")
    row("  server CPU s per 100k jobs", fmt(s, "streamer:async", "server_cpu_s_per_100k"), "–", "–",
        fmt(s, "bullmq:async", "server_cpu_s_per_100k") + " (Node+Redis)", "–")
    row("progress msgs/s delivered (400 jobs × 100 steps / 0.5 s)", fmt(s, "streamer:fanout", "progress_per_s"),
        "–", fmt(s, "ws:fanout", "progress_per_s"), fmt(s, "bullmq:fanout", "progress_per_s"), "–")
    row("  the same, waiting `delay` on the default workers", fmt(s, "streamer:fanout-waiting", "progress_per_s"),
        "–", "–", "–", "–")
    row("idle authenticated connections held", fmt(s, "streamer:idle", "held"), fmt(s, "gateway:idle", "held"),
        "–", "–",
        fmt(s, "echo:idle", "held"))
    row("  server RSS per idle connection", fmt(s, "streamer:idle", "rss_per_conn_kib", " KiB"),
        fmt(s, "gateway:idle", "rss_per_conn_kib", " KiB"), "–", "–", fmt(s, "echo:idle", "rss_per_conn_kib", " KiB"))
    return "\n".join(lines)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "loadavg_at_report": os.getloadavg()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--median")
    ap.add_argument("--quick", default="0")
    ap.add_argument("--write")
    a = ap.parse_args()
    s = summarize(load(a.raw))
    if a.median:
        print(int(med(s, a.median, "per_s") or 0))
        return
    t = targets(s)
    print("\n" + table(s) + "\n")
    if "streamer-redis:async" in s:
        print(redis_table(s) + "\n")
    if any(k.endswith(":noop") for k in s):
        print(remote_table(s) + "\n")
    print("| Target | Measured | Goal | Met |\n|---|---|---|---|")
    for name, got, goal, ok in t:
        print(f"| {name} | {got} | {goal} | {'–' if ok is None else ('yes' if ok else 'NO')} |")
    errs = {k: v["last_error"] for k, v in s.items() if "last_error" in v}
    for k, e in errs.items():
        print(f"note: {k}: last error: {e}", file=sys.stderr)
    if a.write:
        stamp = os.path.basename(a.raw).split(".")[0]
        doc = {"stamp": stamp, "quick": a.quick == "1", "machine": machine(), "summary": s,
               "targets": [{"name": n, "measured": g, "goal": go, "met": ok} for n, g, go, ok in t],
               "raw": os.path.relpath(a.raw, a.write), "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        for name in (f"bench-{stamp}.json", "latest.json"):
            with open(os.path.join(a.write, name), "w") as f:
                json.dump(doc, f, indent=1)
        print(f"\nresults: {os.path.join(a.write, f'bench-{stamp}.json')}")


if __name__ == "__main__":
    main()
