#!/usr/bin/env bash
# Before/after of a change to the async path, in one run: `delay` 0 ms jobs end to end
# (20 connections × 8 in flight, durable SQLite store), for two `streamer` binaries and
# the `ws` + BullMQ peer (its own Redis, persistence off), taken alternately round by
# round, each on a freshly started server (the machine is shared: only ratios within
# one run mean anything). Server CPU is the server's own (Node + Redis for the peer).
#   bench/ab_async.sh BEFORE_BINARY [AFTER_BINARY]
# Env: BUILD_DIR (build; streamer-bench and the default AFTER binary), ROUNDS (3),
#      DURATION (10 s per run), WORKERS (8).
# Prints one JSON line per run (and the server's CPU per thread: `commit_share` is the
# jobs-commit thread's share), then the medians and the ratios.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
BEFORE=${1:?usage: bench/ab_async.sh BEFORE_BINARY [AFTER_BINARY]}
AFTER=${2:-$BUILD_DIR/streamer}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} WORKERS=${WORKERS:-8}
PORT=19141 PORT_BULLMQ=19142 PORT_REDIS=19143 LIFETIME=600
SECRET=ab-secret-$$
WORK=$(mktemp -d /tmp/streamer-ab-async.XXXXXX)
RAW=$WORK/raw.jsonl
SHARES=$WORK/shares.jsonl
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[ab-async $(date +%H:%M:%S)] $*" >&2; }

start() {  # start CMD...: in the background, killed after $LIFETIME s; sets SERVER_PID
  "$@" >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  ( sleep "$LIFETIME"; kill "$SERVER_PID" 2>/dev/null ) >/dev/null 2>&1 &
  PIDS+=("$!")
}
wait_port() {
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on $1"; return 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
thread_ticks() {  # thread_ticks PID: "thread-name cpu-ticks" per thread of PID
  for t in /proc/"$1"/task/*; do
    echo "$(cat "$t/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
  done
}
commit_share() {  # commit_share BEFORE AFTER LABEL: the commit thread's share of the server's CPU
  python3 - "$1" "$2" "$3" >>"$SHARES" <<'PY'
import collections, json, sys
def load(path):
    out = collections.Counter()
    for line in open(path):
        name, _, ticks = line.rstrip().rpartition(" ")
        if name and ticks.isdigit(): out[name] += int(ticks)
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
d = {k: b[k] - a.get(k, 0) for k in b}
total = sum(d.values()) or 1
print(json.dumps({"label": sys.argv[3], "commit_share": d.get("jobs-commit", 0) / total,
                  "threads": {k: round(v / total, 3) for k, v in sorted(d.items()) if v}}))
PY
}
jobs_run() {  # jobs_run PORT PIDS LABEL
  "$BUILD_DIR/streamer-bench" async --url "ws://127.0.0.1:$1/production?Authorization=$TOKEN" \
    --server-pid "$2" --label "$3" --connections 20 --depth 8 --delay-ms 0 --steps 1 \
    --warmup 1 --duration "$DURATION" --out "$RAW" >/dev/null || log "$3 failed"
}

if [[ ! -d $ROOT/bench/peers/node_modules ]]; then
  (cd "$ROOT/bench/peers" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi
TOKEN=$("$AFTER" token --jwt-secret "$SECRET" --sub bench-user --tenant bench-tenant --permissions read,write --ttl 7200)
for round in $(seq "$ROUNDS"); do
  for label in before after; do
    bin=$BEFORE; [[ $label = after ]] && bin=$AFTER
    log "round $round: $label async"
    start "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data-$label-$round" --jwt-secret "$SECRET" \
      --public-url "http://127.0.0.1:$PORT" --workers "$WORKERS" --enable-delay --max-messages-per-second 1000000 \
      --max-connections-per-minute 1000000 --max-running-per-tenant 0
    wait_port "$PORT"
    thread_ticks "$SERVER_PID" >"$WORK/ticks0"
    jobs_run "$PORT" "$SERVER_PID" "$label:async"
    thread_ticks "$SERVER_PID" >"$WORK/ticks1"
    commit_share "$WORK/ticks0" "$WORK/ticks1" "$label:async"
    stop "$SERVER_PID"
  done
  log "round $round: bullmq async"
  start redis-server --port "$PORT_REDIS" --bind 127.0.0.1 --save "" --appendonly no --daemonize no
  RP=$SERVER_PID
  wait_port "$PORT_REDIS"
  start node "$ROOT/bench/peers/bullmq-server.mjs" --port "$PORT_BULLMQ" --redis-port "$PORT_REDIS" \
    --secret "$SECRET" --concurrency 64 --max-seconds "$LIFETIME"
  wait_port "$PORT_BULLMQ"
  jobs_run "$PORT_BULLMQ" "$SERVER_PID,$RP" "bullmq:async"
  stop "$SERVER_PID"
  stop "$RP"
done
cat "$RAW" "$SHARES"
python3 - "$RAW" "$SHARES" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
shares = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
for label in ("before:async", "after:async"):
    v = [r["commit_share"] for r in shares if r["label"] == label]
    if v: print(f"{label:14} commit thread share of server CPU: median {statistics.median(v):.3f}  runs {', '.join(f'{x:.3f}' for x in v)}")
def show(label, key, unit):
    v = [r[key] for r in runs if r.get("label") == label and r.get(key, -1) >= 0]
    if not v: return None
    m = statistics.median(v)
    print(f"{label:14} {key:22} median {m:10.2f} {unit}  runs {', '.join(f'{x:.2f}' for x in v)}")
    return m
m = {}
for label in ("before:async", "after:async", "bullmq:async"):
    for key, unit in (("per_s", "jobs/s"), ("server_cpu_s_per_100k", "CPU s/100k jobs"), ("p99_us", "µs")):
        m[label, key] = show(label, key, unit)
def ratio(a, b, key, what):
    if m.get((a, key)) and m.get((b, key)): print(f"{what}: {m[a, key] / m[b, key]:.3f}")
ratio("after:async", "before:async", "per_s", "after/before jobs/s")
ratio("after:async", "before:async", "server_cpu_s_per_100k", "after/before CPU per job")
ratio("before:async", "bullmq:async", "per_s", "before/bullmq jobs/s")
ratio("after:async", "bullmq:async", "per_s", "after/bullmq jobs/s")
ratio("before:async", "bullmq:async", "server_cpu_s_per_100k", "before/bullmq CPU per job")
ratio("after:async", "bullmq:async", "server_cpu_s_per_100k", "after/bullmq CPU per job")
PY
