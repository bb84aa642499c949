#!/usr/bin/env bash
# Before/after of a change to the gateway, in one run: `health` closed-loop throughput
# (depth 1, over each of CONNS connections) and idle memory per connection (a fresh
# server each time), for two `streamer` binaries taken alternately round by round (the
# machine is shared: only ratios within one run mean anything), plus, in every round,
# the bare Beast echo (bench/beast_echo.cpp: the reference) and the gateway over a
# trivial service (gateway-ceiling: the transport's ceiling) on the same connections.
#   bench/ab_gateway.sh BEFORE_BINARY [AFTER_BINARY]
# Env: BUILD_DIR (build; streamer-bench, beast-echo, gateway-ceiling and the default
#      AFTER binary), ROUNDS (3), DURATION (20 s per throughput run), IDLE (2000
#      connections), CONNS ("100"; e.g. "100 1000"), ECHO (1: measure the Beast echo),
#      SERVE_FLAGS (more `serve` flags for both binaries, e.g. "--log-sync-success-every 1000"
#      to take the per-request log line out of the comparison).
# Prints one JSON line per run, then the medians and after/before ratios.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
BEFORE=${1:?usage: bench/ab_gateway.sh BEFORE_BINARY [AFTER_BINARY]}
AFTER=${2:-$BUILD_DIR/streamer}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-20} IDLE=${IDLE:-2000} CONNS=${CONNS:-100} ECHO=${ECHO:-1}
read -r -a SERVE_FLAGS <<<"${SERVE_FLAGS:-}"
PORT=19131 PORT_CEILING=19132 PORT_ECHO=19133 LIFETIME=600
SECRET=ab-secret-$$
WORK=$(mktemp -d /tmp/streamer-ab.XXXXXX)
RAW=$WORK/raw.jsonl
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[ab $(date +%H:%M:%S)] $*" >&2; }

# start CMD...: runs CMD in the background, killed after $LIFETIME s; sets SERVER_PID.
start() {
  "$@" >"$WORK/server.log" 2>&1 &
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
serve() {  # serve BINARY: the bench's usual flags (client limits lifted)
  start "$1" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data-$RANDOM" --jwt-secret "$SECRET" \
    --public-url "http://127.0.0.1:$PORT" --workers 2 --max-messages-per-second 1000000 \
    --max-connections-per-minute 1000000 --max-running-per-tenant 0 "${SERVE_FLAGS[@]}"
  wait_port "$PORT"
}
url() { echo "ws://127.0.0.1:$1/production?Authorization=$TOKEN"; }

TOKEN=$("$AFTER" token --jwt-secret "$SECRET" --sub bench-user --tenant bench-tenant --permissions read,write --ttl 7200)
health() {  # health PORT LABEL: closed loop over each of $CONNS connections
  for n in $CONNS; do
    "$BUILD_DIR/streamer-bench" closed --url "$(url "$1")" --server-pid "$SERVER_PID" --label "$2:health-$n" \
      --connections "$n" --depth 1 --warmup 1 --duration "$DURATION" --out "$RAW" >/dev/null || log "failed"
  done
}
for round in $(seq "$ROUNDS"); do
  for label in before after; do
    bin=$BEFORE; [[ $label = after ]] && bin=$AFTER
    log "round $round: $label health"
    serve "$bin"
    health "$PORT" "$label"
    stop "$SERVER_PID"
    log "round $round: $label idle ($IDLE connections)"
    serve "$bin"
    sleep 0.5
    "$BUILD_DIR/streamer-bench" idle --url "$(url $PORT)" --server-pid "$SERVER_PID" --label "$label:idle" \
      --connections "$IDLE" --procs 4 --out "$RAW" >/dev/null || log "failed"
    stop "$SERVER_PID"
  done
  if [[ $ECHO = 1 ]]; then
    log "round $round: Beast echo"
    start "$BUILD_DIR/beast-echo" --listen "127.0.0.1:$PORT_ECHO" --threads 2 --max-seconds "$LIFETIME"
    wait_port "$PORT_ECHO"
    health "$PORT_ECHO" echo
    stop "$SERVER_PID"
  fi
  log "round $round: gateway-ceiling health"
  start "$BUILD_DIR/gateway-ceiling" --listen "127.0.0.1:$PORT_CEILING" --jwt-secret "$SECRET" --threads 2
  wait_port "$PORT_CEILING"
  health "$PORT_CEILING" ceiling
  stop "$SERVER_PID"
done
cat "$RAW"
python3 - "$RAW" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def values(label, key):
    return [r[key] for r in runs if r.get("label") == label and r.get(key, -1) >= 0]
def show(label, key, unit):
    v = values(label, key)
    if not v: return None
    m = statistics.median(v)
    print(f"{label:22} {key:18} median {m:10.1f} {unit}  runs {', '.join(f'{x:.1f}' for x in v)}")
    return m
rows = {}
cases = sorted({r["label"].split(":", 1)[1] for r in runs if r.get("label", "").count(":") == 1
                and r["label"].split(":", 1)[1].startswith("health-")}, key=lambda c: int(c.split("-")[1]))
for what in cases:
    for target in ("before", "after", "echo", "ceiling"):
        rows[f"{target}:{what}"] = show(f"{target}:{what}", "per_s", "/s")
        rows[f"{target}:{what}:cpu"] = show(f"{target}:{what}", "server_cpu_s_per_100k", "CPU s/100k")
for label in ("before:idle", "after:idle"):
    rows[label] = show(label, "rss_per_conn_kib", "KiB/conn")
def ratio(a, b, what):
    if rows.get(a) and rows.get(b): print(f"{what}: {rows[a] / rows[b]:.3f}")
for what in cases:
    ratio(f"after:{what}", f"before:{what}", f"after/before {what} req/s")
    ratio(f"after:{what}:cpu", f"before:{what}:cpu", f"after/before {what} CPU per request")
    ratio(f"before:{what}", f"echo:{what}", f"before/echo {what} req/s")
    ratio(f"after:{what}", f"echo:{what}", f"after/echo {what} req/s")
    ratio(f"before:{what}:cpu", f"echo:{what}:cpu", f"before/echo {what} CPU per request")
    ratio(f"after:{what}:cpu", f"echo:{what}:cpu", f"after/echo {what} CPU per request")
    ratio(f"after:{what}", f"ceiling:{what}", f"after/ceiling {what} req/s")
ratio("after:idle", "before:idle", "after/before idle KiB per connection")
PY
