#!/usr/bin/env bash
# Benchmarks: builds the load generator, starts each server in turn (Streamer, the Node
# `ws` peer, the `ws`+BullMQ peer with its own Redis, the bare Beast echo) on 127.0.0.1,
# runs the scenarios against it, stops it, and prints the table (bench/report.py).
#   bench/run.sh [--quick] [--no-build] [--only "streamer ws bullmq echo"]
# Env: BUILD_DIR (build), RUNS (5; quick 1), STREAMER_SERVE_ARGS (extra `serve` flags;
#      default lifts the per-connection message rate and per-IP connection rate limits,
#      which a load generator on one IP would otherwise hit by design),
#      STREAMER_WORKERS (8), ECHO_THREADS (2), IDLE_CONNECTIONS (18000; quick 4000).
# Everything is bounded: each server has a lifetime watchdog, and all started
# processes are stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
QUICK=0 BUILD=1 ONLY="streamer ws bullmq echo"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --only) ONLY=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
  shift
done

if [[ $QUICK = 1 ]]; then
  RUNS=${RUNS:-1} WARMUP=0.5 DURATION=2 IDLE=${IDLE_CONNECTIONS:-4000} RATES="0.5"
else
  RUNS=${RUNS:-5} WARMUP=1 DURATION=5 IDLE=${IDLE_CONNECTIONS:-18000} RATES="0.25 0.5 0.75"
fi
SECRET=bench-secret-$$
WORKERS=${STREAMER_WORKERS:-8}
ECHO_THREADS=${ECHO_THREADS:-2}
PORT_STREAMER=19101 PORT_WS=19102 PORT_BULLMQ=19103 PORT_ECHO=19104 PORT_REDIS=19105
LIFETIME=1500   # seconds any server may live
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench/results
RAW=$RESULTS/raw/$STAMP.jsonl
WORK=$(mktemp -d /tmp/streamer-bench.XXXXXX)
mkdir -p "$RESULTS/raw"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# start NAME CMD...: runs CMD in the background with a lifetime watchdog; sets SERVER_PID.
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  ( sleep "$LIFETIME"; kill "$SERVER_PID" 2>/dev/null ) >/dev/null 2>&1 &
  PIDS+=("$!")
}

# wait_port PORT: waits up to 15 s for a listener.
wait_port() {
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on $1"; return 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# bench TARGET CASE PORT PID SCENARIO ARGS...: RUNS repetitions, appended to $RAW.
bench() {
  local target=$1 case=$2 port=$3 pid=$4 scenario=$5; shift 5
  for i in $(seq "$RUNS"); do
    log "$target $case run $i/$RUNS"
    "$BUILD_DIR/streamer-bench" "$scenario" --url "ws://127.0.0.1:$port/production?Authorization=$TOKEN" \
      --server-pid "$pid" --label "$target:$case" --warmup "$WARMUP" --duration "$DURATION" \
      --out "$RAW" "$@" >/dev/null || log "$target $case run $i failed"
    sleep 0.5
  done
}

# idle TARGET PORT CMD...: up to 3 runs of $IDLE idle connections from 4 client
# processes, each against a freshly started server (a server whose heap already grew
# in earlier scenarios would hide the per-connection cost in its baseline).
idle() {
  local target=$1 port=$2; shift 2
  local runs=$(( RUNS < 3 ? RUNS : 3 ))
  for i in $(seq $runs); do
    start "$target-idle" "$@"
    wait_port "$port"
    sleep 0.5
    log "$target idle run $i/$runs ($IDLE connections)"
    "$BUILD_DIR/streamer-bench" idle --url "ws://127.0.0.1:$port/production?Authorization=$TOKEN" \
      --server-pid "$SERVER_PID" --label "$target:idle" --connections "$IDLE" --procs 4 --out "$RAW" \
      >/dev/null || log "$target idle run $i failed"
    stop "$SERVER_PID"
    sleep 1
  done
}

median_of() {  # median per_s of TARGET:CASE in $RAW
  python3 "$ROOT/bench/report.py" --median "$1" "$RAW"
}

# open_loop TARGET PORT PID: open-loop latency over 100 connections (as the maximum
# it is a fraction of) at each fraction in $RATES of Streamer's closed-loop maximum,
# so that every server is offered the same absolute rates in one run (a target's
# own maximum when Streamer was not measured).
STREAMER_MAX=
open_loop() {
  local target=$1 port=$2 pid=$3 max=${STREAMER_MAX:-} f rate
  [[ -n $max ]] || max=$(median_of "$1:health-100")
  for f in $RATES; do
    rate=$(python3 -c "print(max(100, int($max * $f)))")
    bench "$target" "open-$f" "$port" "$pid" open --connections 100 --rate "$rate"
  done
}

if [[ $BUILD = 1 ]]; then
  log "building in $BUILD_DIR"
  [[ -f $BUILD_DIR/build.ninja || -f $BUILD_DIR/Makefile ]] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null
  cmake --build "$BUILD_DIR" --target streamer-bench beast-echo -- -j2 >/dev/null
  cmake --build "$BUILD_DIR" --target streamer -- -j2 >/dev/null 2>&1 || log "streamer binary not built"
fi
if [[ ! -d $ROOT/bench/peers/node_modules ]]; then
  log "installing peer dependencies (npm ci)"
  (cd "$ROOT/bench/peers" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi
if [[ -x $BUILD_DIR/streamer ]] && TOKEN=$("$BUILD_DIR/streamer" token --jwt-secret "$SECRET" --sub bench-user \
     --tenant bench-tenant --permissions read,write --ttl 7200 2>/dev/null) && [[ -n $TOKEN ]]; then :
else
  TOKEN=$(node "$ROOT/bench/peers/mint-token.mjs" --secret "$SECRET" --sub bench-user --tenant bench-tenant)
fi

H100=(--connections 100 --depth 1)
H1000=(--connections 1000 --depth 1)
ASYNC=(--connections 20 --depth 8 --delay-ms 0 --steps 1)
FANOUT=(--connections 50 --depth 8 --delay-ms 500 --steps 100)

for target in $ONLY; do
  case $target in
    streamer)
      if [[ ! -x $BUILD_DIR/streamer ]]; then log "no $BUILD_DIR/streamer: skipped"; continue; fi
      # The load generator is one tenant offering more than one machine can take, so the
      # per-client limits are lifted, and so is the per-tenant running bound (it reserves
      # a worker for other tenants; with none, it only costs the lone tenant batching).
      # shellcheck disable=SC2206
      SERVE=("$BUILD_DIR/streamer" serve --listen "127.0.0.1:$PORT_STREAMER" --data-dir "$WORK/data" \
        --jwt-secret "$SECRET" --public-url "http://127.0.0.1:$PORT_STREAMER" --workers "$WORKERS" --enable-delay \
        ${STREAMER_SERVE_ARGS:---max-messages-per-second 1000000 --max-connections-per-minute 1000000 --max-running-per-tenant 0})
      start streamer "${SERVE[@]}"
      wait_port $PORT_STREAMER
      P=$SERVER_PID
      bench streamer health-100 $PORT_STREAMER $P closed "${H100[@]}"
      bench streamer health-1000 $PORT_STREAMER $P closed "${H1000[@]}"
      STREAMER_MAX=$(median_of streamer:health-100)
      open_loop streamer $PORT_STREAMER $P
      # The same offered rate over 1,000 connections (more, slower senders).
      rate=$(python3 -c "print(max(100, int($STREAMER_MAX * 0.5)))")
      bench streamer open1000-0.5 $PORT_STREAMER $P open --connections 1000 --rate "$rate"
      bench streamer async $PORT_STREAMER $P async "${ASYNC[@]}"
      stop $P
      # Fan-out: 400 concurrent waiting jobs need 400 workers (a handler holds its
      # worker while it waits), and progress coalescing (100 ms by default) is turned
      # off so that delivery, not the coalescing interval, is what gets measured.
      start streamer-fanout "${SERVE[@]}" --workers 400 --progress-interval-ms 0
      wait_port $PORT_STREAMER
      bench streamer fanout $PORT_STREAMER $SERVER_PID async "${FANOUT[@]}" --warmup 1
      stop $SERVER_PID
      idle streamer $PORT_STREAMER "${SERVE[@]}" ;;
    ws)
      start ws node "$ROOT/bench/peers/ws-server.mjs" --port $PORT_WS --secret "$SECRET" --max-seconds $LIFETIME
      wait_port $PORT_WS
      bench ws health-100 $PORT_WS $SERVER_PID closed "${H100[@]}"
      bench ws health-1000 $PORT_WS $SERVER_PID closed "${H1000[@]}"
      open_loop ws $PORT_WS $SERVER_PID
      bench ws fanout $PORT_WS $SERVER_PID async "${FANOUT[@]}" --warmup 1
      stop $SERVER_PID ;;
    bullmq)
      start redis redis-server --port $PORT_REDIS --bind 127.0.0.1 --save "" --appendonly no --daemonize no
      RP=$SERVER_PID
      wait_port $PORT_REDIS
      start bullmq node "$ROOT/bench/peers/bullmq-server.mjs" --port $PORT_BULLMQ --redis-port $PORT_REDIS \
        --secret "$SECRET" --concurrency 64 --max-seconds $LIFETIME
      wait_port $PORT_BULLMQ
      bench bullmq async $PORT_BULLMQ "$SERVER_PID,$RP" async "${ASYNC[@]}"
      bench bullmq fanout $PORT_BULLMQ "$SERVER_PID,$RP" async "${FANOUT[@]}" --warmup 1
      stop $SERVER_PID
      redis-cli -p $PORT_REDIS info cpu 2>/dev/null | grep used_cpu >"$WORK/redis-cpu.txt" || true
      stop $RP ;;
    echo)
      start echo "$BUILD_DIR/beast-echo" --listen "127.0.0.1:$PORT_ECHO" --threads "$ECHO_THREADS" --max-seconds $LIFETIME
      wait_port $PORT_ECHO
      bench echo health-100 $PORT_ECHO $SERVER_PID closed "${H100[@]}"
      bench echo health-1000 $PORT_ECHO $SERVER_PID closed "${H1000[@]}"
      open_loop echo $PORT_ECHO $SERVER_PID
      stop $SERVER_PID
      idle echo $PORT_ECHO "$BUILD_DIR/beast-echo" --listen "127.0.0.1:$PORT_ECHO" --threads "$ECHO_THREADS" \
        --max-seconds $LIFETIME ;;
    *) log "unknown target $target" ;;
  esac
done

python3 "$ROOT/bench/report.py" --quick "$QUICK" --write "$RESULTS" "$RAW"
