#!/usr/bin/env bash
# Many connections in Redis mode: G gateways (`serve --workers 0`) and W `streamer worker`s
# on one throwaway redis-server (AOF everysec, noeviction); JOBS long `delay` jobs run
# (a progress step every STEP_MS), and CONNECTIONS clients in PROCS processes on spread
# loopback source addresses, spread over the gateways, each subscribe to one job.
# Records gateway RSS per connection, Redis memory and CPU, and per progress step the
# time from its first to its last arrival over all clients (bench/scenarios/subscribers.cpp).
#   bench/many_connections.sh            (env: CONNECTIONS=100000 GATEWAYS=6 JOBS=1000
#                                          WORKERS=2 PROCS=24 STEP_MS=10000 OBSERVE=25)
# One JSON line is appended to bench/results/raw/many-<stamp>.jsonl and printed.
# Bounded: every process it starts is stopped on exit, and lives at most 15 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
CONNECTIONS=${CONNECTIONS:-100000} GATEWAYS=${GATEWAYS:-6} JOBS=${JOBS:-1000} WORKERS=${WORKERS:-2}
PROCS=${PROCS:-24} STEP_MS=${STEP_MS:-10000} OBSERVE=${OBSERVE:-25}
PORT_REDIS=19208 FIRST_PORT=19210 LIFETIME=900
SECRET=many-$$
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/results/raw/many-$STAMP.jsonl
WORK=$(mktemp -d /tmp/streamer-many.XXXXXX)
mkdir -p "$ROOT/bench/results/raw"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[many $(date +%H:%M:%S)] $*" >&2; }
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  ( sleep "$LIFETIME"; kill "$SERVER_PID" 2>/dev/null ) >/dev/null 2>&1 &
  PIDS+=("$!")
}
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  log "nothing listens on $1"; return 1
}
probe() { python3 "$ROOT/bench/redis_probe.py" "$@"; }

ulimit -n 20000
mkdir -p "$WORK/redis"
start redis redis-server --port $PORT_REDIS --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --dir "$WORK/redis"
RP=$SERVER_PID
wait_port $PORT_REDIS
STORE=redis://127.0.0.1:$PORT_REDIS/0
COMMON=(--store "$STORE" --jwt-secret "$SECRET" --artifact-secret "many-artifacts-$$" --enable-delay
  --max-messages-per-second 1000000 --max-connections-per-minute 1000000 --max-running-per-tenant 0
  --max-queued-per-tenant 0 --max-queued-per-user 0 --max-concurrent-requests $((JOBS + 100)) --log-level warn)
URLS=() GPIDS=()
TOKEN=$("$BUILD_DIR/streamer" token --jwt-secret "$SECRET" --sub many-user --tenant many-tenant \
  --permissions read,write --ttl 7200)
for i in $(seq 0 $((GATEWAYS - 1))); do
  port=$((FIRST_PORT + i))
  start "gw$i" "$BUILD_DIR/streamer" serve --listen "127.0.0.1:$port" --workers 0 --data-dir "$WORK/gw$i" \
    --public-url "http://127.0.0.1:$port" "${COMMON[@]}"
  GPIDS+=("$SERVER_PID")
  URLS+=("ws://127.0.0.1:$port/production?Authorization=$TOKEN")
done
for i in $(seq 0 $((WORKERS - 1))); do
  start "wk$i" "$BUILD_DIR/streamer" worker --workers $(( (JOBS + WORKERS - 1) / WORKERS + 4 )) \
    --data-dir "$WORK/wk$i" "${COMMON[@]}"
done
for i in $(seq 0 $((GATEWAYS - 1))); do wait_port $((FIRST_PORT + i)); done
sleep 1
probe stats --port $PORT_REDIS >"$WORK/r0.json"
log "$CONNECTIONS connections over $GATEWAYS gateways, $JOBS jobs, steps every $STEP_MS ms"
steps=$(( 600000 / STEP_MS ))
timeout $((OBSERVE + 600)) "$BUILD_DIR/streamer-bench" subscribers --urls "$(IFS=,; echo "${URLS[*]}")" \
  --connections "$CONNECTIONS" --procs "$PROCS" --jobs "$JOBS" --job-ms 600000 --steps "$steps" \
  --observe "$OBSERVE" --server-pid "$(IFS=,; echo "${GPIDS[*]}")" --label "redis:many" >"$WORK/result.json"
probe stats --port $PORT_REDIS >"$WORK/r1.json"
python3 - "$WORK/r0.json" "$WORK/r1.json" "$WORK/result.json" "$OUT" "$RP" <<'PY'
import json, sys
r0, r1, res = (json.load(open(p)) for p in sys.argv[1:4])
res["redis_used_memory_mib"] = round(r1["used_memory"] / 2**20, 1)
res["redis_cpu_s"] = round(r1["cpu_s"] - r0["cpu_s"], 2)
res["redis_seconds"] = round(r1["t"] - r0["t"], 1)
with open(f"/proc/{sys.argv[5]}/status") as f:
    res["redis_rss_mib"] = round(next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024, 1)
line = json.dumps(res)
open(sys.argv[4], "a").write(line + "\n")
print(line)
PY
