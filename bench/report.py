#!/usr/bin/env python3
"""Aggregates streamer-bench JSON lines into medians and spreads, checks the targets of
issue 7, prints the table and writes bench/results/<stamp>.json and latest.json.

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

FIELDS = ["per_s", "progress_per_s", "p50_us", "p99_us", "p999_us", "server_cpu_s_per_100k",
          "held", "rss_per_conn_kib", "offered_per_s", "errors", "connect_failures"]


def load(path):
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
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
    return out


def table(s):
    lines = []
    row = lambda *c: lines.append("| " + " | ".join(c) + " |")
    row("Scenario", "Streamer", "Node ws", "ws+BullMQ", "Beast echo")
    row("---", "---", "---", "---", "---")
    for case, title in [("health-100", "health req/s, 100 conns"),
                        ("health-1000", "health req/s, 1,000 conns")]:
        row(title, *(fmt(s, f"{t}:{case}", "per_s") for t in ("streamer", "ws", "bullmq", "echo")))
        row(f"  p50 / p99 µs, {case.split('-')[1]} conns (closed loop)",
            *(f"{fmt(s, f'{t}:{case}', 'p50_us')} / {fmt(s, f'{t}:{case}', 'p99_us')}"
              if f"{t}:{case}" in s else "–" for t in ("streamer", "ws", "bullmq", "echo")))
        row(f"  server CPU s per 100k, {case.split('-')[1]} conns",
            *(fmt(s, f"{t}:{case}", "server_cpu_s_per_100k") for t in ("streamer", "ws", "bullmq", "echo")))
    def open_cell(label):
        if label not in s:
            return "–"
        return (f"{fmt(s, label, 'per_s')}; {fmt(s, label, 'p50_us')} / {fmt(s, label, 'p99_us')} / "
                f"{fmt(s, label, 'p999_us')}")
    cases = sorted({k.split(":", 1)[1] for k in s if ":open" in k})
    for case in cases:
        conns = "1,000" if case.startswith("open1000") else "100"
        offered = next((med(s, f"{t}:{case}", "offered_per_s") for t in ("streamer", "ws", "echo")
                        if f"{t}:{case}" in s), 0) or 0
        row(f"health open loop {offered:,.0f}/s offered, {conns} conns: achieved; p50 / p99 / p99.9 µs",
            *(open_cell(f"{t}:{case}") for t in ("streamer", "ws", "bullmq", "echo")))
    row("async delay 0 ms jobs/s end to end", fmt(s, "streamer:async", "per_s"), "–",
        fmt(s, "bullmq:async", "per_s"), "–")
    row("  async p99 request→result µs", fmt(s, "streamer:async", "p99_us"), "–",
        fmt(s, "bullmq:async", "p99_us"), "–")
    row("  server CPU s per 100k jobs", fmt(s, "streamer:async", "server_cpu_s_per_100k"), "–",
        fmt(s, "bullmq:async", "server_cpu_s_per_100k") + " (Node+Redis)", "–")
    row("progress msgs/s delivered (400 jobs × 100 steps / 0.5 s)", fmt(s, "streamer:fanout", "progress_per_s"),
        fmt(s, "ws:fanout", "progress_per_s"), fmt(s, "bullmq:fanout", "progress_per_s"), "–")
    row("idle authenticated connections held", fmt(s, "streamer:idle", "held"), "–", "–",
        fmt(s, "echo:idle", "held"))
    row("  server RSS per idle connection", fmt(s, "streamer:idle", "rss_per_conn_kib", " KiB"),
        "–", "–", fmt(s, "echo:idle", "rss_per_conn_kib", " KiB"))
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
