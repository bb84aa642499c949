#!/usr/bin/env python3
"""Redis-side measurements for the Redis-mode benchmarks (bench/run.sh, target `redis`):
what a job costs the Redis server, from its own counters.

  redis_probe.py stats --port P [--key K ...]            one snapshot as JSON on stdout:
      CPU seconds (used_cpu_sys + used_cpu_user), calls per command (INFO commandstats;
      commands called by scripts count too), used_memory, and the integer value of each
      key K (a pattern with `*`: every matching key), e.g. the job counters `s:{*}:seq`
      (Streamer) or `bull:*:id` (BullMQ)
  redis_probe.py delta BEFORE AFTER --label L --out RAW [--jobs N]
      appends one JSON line to RAW: Redis CPU µs and command calls per job between two
      snapshots (jobs: N, else the growth of the snapshots' keys), and calls per second
  redis_probe.py monitor --port P --seconds S --jobs-pattern RE --label L --out RAW
      samples MONITOR for S seconds (it slows Redis: never during a timed window) and
      appends the commands clients sent per job, by name and by script (EVALSHA digest,
      named by the commands it called), jobs being the INCRs of a key matching RE
      inside scripts
  redis_probe.py slowlog --port P --seconds S --key K --label L --out RAW
      records every command's execution time for S seconds (SLOWLOG with a threshold of
      0, restored after) and appends, per job (growth of the keys K), the µs spent
      executing each script (EVALSHA digest) and each other command: where Redis' CPU
      goes inside commands (reading requests, replies, AOF writes are outside it)
"""
import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter


def cli(port, *args, timeout=10):
    r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                       errors="replace", timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"redis-cli {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def info(port, section):
    out = {}
    for line in cli(port, "INFO", section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.strip().split(":", 1)
            out[k] = v
    return out


def expand_keys(port, patterns):
    """The keys matching each pattern (a name without '*' is taken as is). SCAN reads
    10,000 keys per call: a run stores a few keys per job, so the keyspace reaches
    millions after a fast run and the default of 10 per call took minutes."""
    out = []
    for pattern in patterns:
        if "*" not in pattern:
            out.append(pattern)
            continue
        cursor = "0"
        while True:
            reply = cli(port, "SCAN", cursor, "MATCH", pattern, "COUNT", "10000").split()
            cursor, found = reply[0], reply[1:]
            out += found
            if cursor == "0":
                break
    return out


def stats(port, keys):
    cpu = info(port, "cpu")
    calls = {}
    for k, v in info(port, "commandstats").items():
        m = re.search(r"calls=(\d+)", v)
        if m and k.startswith("cmdstat_"):
            calls[k[len("cmdstat_"):]] = int(m.group(1))
    mem = info(port, "memory")
    values = {}
    keys = expand_keys(port, keys)
    for key in keys:
        v = cli(port, "GET", key).strip()
        values[key] = int(v) if v.lstrip("-").isdigit() else 0
    return {"t": time.time(), "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
            "calls": calls, "used_memory": int(mem.get("used_memory", 0)), "keys": values}


# The probe's own commands, not the workload's.
PROBE = {"info", "get", "monitor", "config|get", "config", "command", "command|docs", "scan"}
# Commands only a client sends (never from inside a script): script calls, blocking
# waits, WAIT, and connection upkeep. Their count is the commands sent per job (PUBLISH,
# which both gateways' pings and event scripts use, is left out: a ping a second).
SENT_ONLY = {"evalsha", "evalsha_ro", "eval", "eval_ro", "fcall", "bzpopmin", "bzpopmax", "blpop",
             "brpop", "brpoplpush", "blmove", "wait", "zcount", "ping", "subscribe", "ssubscribe",
             "role", "select", "auth", "hello", "script|load", "client|setname"}


def delta(a, b, label, jobs):
    """Counters of `after` minus `before`; jobs: given, or the growth of the snapshots' keys."""
    if jobs is None:
        jobs = sum(b["keys"].values()) - sum(a["keys"].values())
    seconds = b["t"] - a["t"]
    calls = {k: v - a["calls"].get(k, 0) for k, v in b["calls"].items() if k not in PROBE}
    calls = {k: v for k, v in calls.items() if v > 0}
    total = sum(calls.values())
    cpu_us = (b["cpu_s"] - a["cpu_s"]) * 1e6
    r = {"label": label, "jobs": jobs, "seconds": round(seconds, 3), "redis_cpu_s": round(cpu_us / 1e6, 4),
         "redis_calls_per_s": round(total / seconds, 2) if seconds > 0 else None,
         "redis_calls": calls, "redis_used_memory": b["used_memory"]}
    if jobs > 0:
        r["redis_cpu_us_per_job"] = round(cpu_us / jobs, 2)
        r["redis_calls_per_job"] = round(total / jobs, 3)
        r["client_cmds_per_job"] = round(sum(v for k, v in calls.items() if k in SENT_ONLY) / jobs, 3)
    return r


LINE = re.compile(r'^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]*)"(.*)$')


def monitor(port, seconds, jobs_pattern, label):
    """Client commands per job from a MONITOR sample. A script's own commands follow its
    EVALSHA line (Redis runs one command at a time), which names the script."""
    p = subprocess.Popen(["redis-cli", "-p", str(port), "MONITOR"], stdout=subprocess.PIPE, text=True,
                         errors="replace")
    deadline = time.time() + seconds
    lines = []
    try:
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while time.time() < deadline:
            if sel.select(timeout=0.1):
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line)
    finally:
        p.kill()
        p.wait()
    jobs_re = re.compile(jobs_pattern)
    client = Counter()
    scripts = Counter()
    script_calls = {}
    current = None
    inner = []
    jobs = 0

    def close_script():
        if current is not None:
            script_calls.setdefault(current, Counter()).update(inner)

    for line in lines:
        m = LINE.match(line.strip())
        if not m:
            continue
        source, cmd, rest = m.group(1), m.group(2).lower(), m.group(3)
        if source == "lua":
            inner.append(cmd)
            if cmd == "incr" and jobs_re.search(rest):
                jobs += 1
            continue
        close_script()
        current, inner = None, []
        if cmd in PROBE:
            continue
        client[cmd] += 1
        if cmd in ("evalsha", "eval", "fcall"):
            digest = rest.split('"')[1][:8] if '"' in rest else "?"
            current = digest
            scripts[digest] += 1
    close_script()
    r = {"label": label, "monitor_seconds": seconds, "monitor_jobs": jobs,
         "client_commands": dict(client)}
    if jobs > 0:
        r["client_cmds_per_job"] = round(sum(client.values()) / jobs, 3)
        r["scripts_per_job"] = {
            d: {"calls_per_job": round(n / jobs, 3),
                "inner_calls_per_call": round(sum(script_calls.get(d, Counter()).values()) / n, 2),
                "calls": sorted(script_calls.get(d, Counter()))}
            for d, n in scripts.most_common()}
    return r


def slowlog(port, seconds, keys, label):
    """Execution µs per job by script digest (and by command for the rest)."""
    old = cli(port, "CONFIG", "GET", "slowlog-*").split()
    conf = dict(zip(old[0::2], old[1::2]))
    # The counters' names first (a SCAN of the keyspace takes long), then their values.
    keys = expand_keys(port, keys)
    before = stats(port, keys)
    cli(port, "CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "1000000")
    cli(port, "SLOWLOG", "RESET")
    try:
        time.sleep(seconds)
        cli(port, "CONFIG", "SET", "slowlog-log-slower-than", "-1")  # the window ends here
        after = stats(port, keys)
        entries = json.loads(cli(port, "--json", "SLOWLOG", "GET", "-1", timeout=60))
    finally:
        cli(port, "CONFIG", "SET", "slowlog-log-slower-than", conf.get("slowlog-log-slower-than", "10000"),
            "slowlog-max-len", conf.get("slowlog-max-len", "128"))
        cli(port, "SLOWLOG", "RESET")
    jobs = sum(after["keys"].values()) - sum(before["keys"].values())
    us, calls = Counter(), Counter()
    for e in entries:
        argv = e[3]
        cmd = argv[0].lower() if argv else "?"
        if cmd in PROBE or cmd in ("slowlog", "config"):
            continue
        name = f"evalsha:{argv[1][:8]}" if cmd == "evalsha" and len(argv) > 1 else cmd
        us[name] += e[2]
        calls[name] += 1
    r = {"label": label, "slowlog_seconds": seconds, "slowlog_jobs": jobs,
         "slowlog_entries": len(entries)}
    if jobs > 0:
        # A script's time includes the commands it runs (SLOWLOG lists those too): the
        # scripts' sum and the commands sent by clients other than scripts.
        r["scripts_us_per_job"] = round(sum(v for k, v in us.items() if k.startswith("evalsha:")) / jobs, 2)
        r["by_command"] = {k: {"calls_per_job": round(calls[k] / jobs, 3),
                               "us_per_call": round(us[k] / calls[k], 2),
                               "us_per_job": round(v / jobs, 2)}
                           for k, v in us.most_common()}
    return r


def append(out, record):
    with open(out, "a") as f:
        f.write(json.dumps(record) + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stats")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--key", action="append", default=[])
    d = sub.add_parser("delta")
    d.add_argument("before")
    d.add_argument("after")
    d.add_argument("--label", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--jobs", type=int)
    m = sub.add_parser("monitor")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--seconds", type=float, default=1.0)
    m.add_argument("--jobs-pattern", required=True)
    m.add_argument("--label", required=True)
    m.add_argument("--out", required=True)
    sl = sub.add_parser("slowlog")
    sl.add_argument("--port", type=int, required=True)
    sl.add_argument("--seconds", type=float, default=1.0)
    sl.add_argument("--key", action="append", default=[])
    sl.add_argument("--label", required=True)
    sl.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.cmd == "stats":
        json.dump(stats(a.port, a.key), sys.stdout)
    elif a.cmd == "delta":
        with open(a.before) as f1, open(a.after) as f2:
            append(a.out, delta(json.load(f1), json.load(f2), a.label, a.jobs))
    elif a.cmd == "slowlog":
        append(a.out, slowlog(a.port, a.seconds, a.key, a.label))
    else:
        append(a.out, monitor(a.port, a.seconds, a.jobs_pattern, a.label))


if __name__ == "__main__":
    main()
