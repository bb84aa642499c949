#!/usr/bin/env bash
# Benchmarks: builds the load generator, starts each server in turn (Streamer, Streamer's
# gateway over a trivial service, the Node `ws` peer, the `ws`+BullMQ peer with its own
# Redis, the bare Beast echo) on 127.0.0.1,
# runs the scenarios against it, stops it, and prints the table (bench/report.py); then
# the data sections (bench/data_peers.sh): process_data against scikit-learn and the
# Excel report against XlsxWriter, on the same data (bench/data_report.py).
# Redis mode (target `redis`): a gateway (`serve --workers 0`) and a `streamer worker` on
# a throwaway redis-server with AOF everysec, against the ws+BullMQ peer on a fresh Redis
# of the same configuration (bench/redis_probe.py reads Redis' own CPU and command counters).
# Section `store`: one SQLite commit round of submits that wait, with and without a
# tenant's queued backlog (build/store-rounds).
#   bench/run.sh [--quick] [--no-build] [--only "streamer gateway ws bullmq echo redis remote store process report"]
# Env: BUILD_DIR (build), RUNS (5; quick 1), STREAMER_SERVE_ARGS (extra `serve` flags;
#      default lifts the per-connection message rate and per-IP connection rate limits,
#      which a load generator on one IP would otherwise hit by design),
#      STREAMER_WORKERS (8), REDIS_WORKERS (64: `streamer worker` threads in Redis mode,
#      the BullMQ peer's concurrency), ECHO_THREADS (2), IDLE_CONNECTIONS (18000; quick 4000),
#      DATA_ROWS (rows of the data sections: 1000000; quick 100000), DATA_TIMEOUT (900 s
#      per data run), DATA_PIPELINES (all four), REMOTE_JOBS (no-op jobs per BullMQ run in
#      the remote section: 10000; quick 3000; Streamer's side is driven by streamer-bench for
#      DURATION s), REMOTE_CONCURRENCY (64: each worker's concurrency).
# Everything is bounded: each server has a lifetime watchdog, and all started
# processes are stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
QUICK=0 BUILD=1 ONLY="streamer gateway ws bullmq echo redis remote store process report"
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
  RUNS=${RUNS:-1} WARMUP=0.5 DURATION=2 IDLE=${IDLE_CONNECTIONS:-4000} RATES="0.5" IDLE_WORKER_S=3
  DATA_ROWS=${DATA_ROWS:-100000}
  REMOTE_JOBS=${REMOTE_JOBS:-3000}
else
  RUNS=${RUNS:-5} WARMUP=1 DURATION=5 IDLE=${IDLE_CONNECTIONS:-18000} RATES="0.25 0.5 0.75" IDLE_WORKER_S=10
  DATA_ROWS=${DATA_ROWS:-1000000}
  REMOTE_JOBS=${REMOTE_JOBS:-10000}
fi
REMOTE_CONCURRENCY=${REMOTE_CONCURRENCY:-64}
REMOTE_CLIENTS=4 REMOTE_IN_FLIGHT=60  # jobs in flight: 4 connections x 60 (streamer-bench's most), or 240 BullMQ adds
SECRET=bench-secret-$$
WORKERS=${STREAMER_WORKERS:-8}
REDIS_WORKERS=${REDIS_WORKERS:-64}  # as the BullMQ peer's concurrency
ECHO_THREADS=${ECHO_THREADS:-2}
PORT_STREAMER=19101 PORT_WS=19102 PORT_BULLMQ=19103 PORT_ECHO=19104 PORT_REDIS=19105 PORT_GATEWAY=19106 PORT_REDIS_GW=19107 PORT_REDIS_AOF=19108
LIFETIME=1500   # seconds any server may live
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench/results
RAW=$RESULTS/raw/$STAMP.jsonl
DATA_RAW=$RESULTS/raw/$STAMP-data.jsonl
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
# shellcheck source=bench/data_peers.sh
source "$ROOT/bench/data_peers.sh"

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

# redis_aof NAME: a fresh redis-server on PORT_REDIS_AOF as Streamer's Redis store needs
# it and as it is run in production (AOF, fsync every second, no eviction); sets RP.
# Fresh means empty: a directory kept from an earlier run of NAME would load its AOF (the
# remote section's second and third Redis runs failed on the first run's jobs).
redis_aof() {
  rm -rf "${WORK:?}/$1"
  mkdir -p "$WORK/$1"
  start "$1" redis-server --port $PORT_REDIS_AOF --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync everysec --maxmemory-policy noeviction --dir "$WORK/$1"
  RP=$SERVER_PID
  wait_port $PORT_REDIS_AOF
}

probe() { python3 "$ROOT/bench/redis_probe.py" "$@"; }

# redis_costs TARGET JOBS_KEY CMD...: runs CMD (a benchmark) between two snapshots of
# Redis' counters, appends Redis CPU and commands per job (label TARGET:redis-async), then
redis_costs() {
  local target=$1 key=$2; shift 2
  probe stats --port $PORT_REDIS_AOF --key "$key" >"$WORK/before.json"
  "$@"
  probe stats --port $PORT_REDIS_AOF --key "$key" >"$WORK/after.json"
  probe delta "$WORK/before.json" "$WORK/after.json" --label "$target:redis-async" --out "$RAW"
}

# slowlog_under_load TARGET PORT JOBS_KEY: execution time per call of each script (SLOWLOG
# at threshold 0 for 2 s) while the async load runs against the server on PORT; appended
# with label TARGET:redis-slowlog.
slowlog_under_load() {
  local target=$1 port=$2 key=$3
  "$BUILD_DIR/streamer-bench" async --url "ws://127.0.0.1:$port/production?Authorization=$TOKEN" \
    --label slowlog --warmup 0.3 --duration 8 --out /dev/null "${ASYNC[@]}" >/dev/null &
  local load=$!
  sleep 0.8  # the probe's window starts inside the load's, after its warm-up
  probe slowlog --port $PORT_REDIS_AOF --seconds 2 --key "$key" --label "$target:redis-slowlog" --out "$RAW"
  wait $load || true
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
  cmake --build "$BUILD_DIR" --target streamer-bench beast-echo gateway-ceiling store-rounds -- -j2 >/dev/null
  cmake --build "$BUILD_DIR" --target streamer -- -j2 >/dev/null 2>&1 || log "streamer binary not built"
fi
if [[ " $ONLY " == *" ws "* || " $ONLY " == *" bullmq "* || " $ONLY " == *" redis "* || " $ONLY " == *" remote "* ]] && [[ ! -d $ROOT/bench/peers/node_modules ]]; then
  log "installing peer dependencies (npm ci)"
  (cd "$ROOT/bench/peers" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi
if [[ -x $BUILD_DIR/streamer ]] && TOKEN=$("$BUILD_DIR/streamer" token --jwt-secret "$SECRET" --sub bench-user \
     --tenant bench-tenant --permissions read,write --ttl 7200 2>/dev/null) && [[ -n $TOKEN ]]; then :
else
  TOKEN=$(node "$ROOT/bench/peers/mint-token.mjs" --secret "$SECRET" --sub bench-user --tenant bench-tenant)
fi

PYTHON=$ROOT/.venv/bin/python
[[ -x $PYTHON ]] || PYTHON=python3
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
      # The same fan-out on the default worker count: `delay` waits on a timer without
      # holding a worker, so 400 waiting jobs need no more threads.
      start streamer-fanout-waiting "${SERVE[@]}" --progress-interval-ms 0
      wait_port $PORT_STREAMER
      bench streamer fanout-waiting $PORT_STREAMER $SERVER_PID async "${FANOUT[@]}" --warmup 1
      stop $SERVER_PID
      idle streamer $PORT_STREAMER "${SERVE[@]}" ;;
    gateway)
      # The transport's ceiling: the same gateway, a service that answers each frame at once.
      GATEWAY=("$BUILD_DIR/gateway-ceiling" --listen "127.0.0.1:$PORT_GATEWAY" --jwt-secret "$SECRET"
        --threads 2 --max-seconds $LIFETIME)
      start gateway "${GATEWAY[@]}"
      wait_port $PORT_GATEWAY
      bench gateway health-100 $PORT_GATEWAY $SERVER_PID closed "${H100[@]}"
      bench gateway health-1000 $PORT_GATEWAY $SERVER_PID closed "${H1000[@]}"
      open_loop gateway $PORT_GATEWAY $SERVER_PID
      stop $SERVER_PID
      idle gateway $PORT_GATEWAY "${GATEWAY[@]}" ;;
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
    redis)
      if [[ ! -x $BUILD_DIR/streamer ]]; then log "no $BUILD_DIR/streamer: skipped"; continue; fi
      STORE=redis://127.0.0.1:$PORT_REDIS_AOF/0
      LIFTED=(--max-messages-per-second 1000000 --max-connections-per-minute 1000000 --max-running-per-tenant 0)
      COMMON=(--store "$STORE" --jwt-secret "$SECRET" --artifact-secret "bench-artifacts-$$" --enable-delay
        --public-url "http://127.0.0.1:$PORT_REDIS_GW" "${LIFTED[@]}")
      redis_aof redis-streamer
      start redis-gateway "$BUILD_DIR/streamer" serve --listen "127.0.0.1:$PORT_REDIS_GW" --workers 0 \
        --data-dir "$WORK/redis-gw" "${COMMON[@]}"
      GP=$SERVER_PID
      start redis-worker "$BUILD_DIR/streamer" worker --workers "$REDIS_WORKERS" --data-dir "$WORK/redis-wk" "${COMMON[@]}"
      WP=$SERVER_PID
      wait_port $PORT_REDIS_GW
      sleep 1
      # Idle: a gateway and a worker with nothing to do cost Redis only their blocking
      # waits and the gateway's once-a-second pub/sub ping.
      log "redis idle ($IDLE_WORKER_S s)"
      probe stats --port $PORT_REDIS_AOF >"$WORK/idle0.json"
      sleep "$IDLE_WORKER_S"
      probe stats --port $PORT_REDIS_AOF >"$WORK/idle1.json"
      probe delta "$WORK/idle0.json" "$WORK/idle1.json" --jobs 0 --label "streamer:redis-idle" --out "$RAW"
      # Throughput with Redis' CPU per job inside the window (--server-pid: Redis only),
      # then gateway and worker CPU per job in a second pass.
      redis_costs streamer 's:{*}:seq' bench streamer-redis async $PORT_REDIS_GW "$RP" async "${ASYNC[@]}"
      bench streamer-redis async-procs $PORT_REDIS_GW "$GP,$WP" async "${ASYNC[@]}"
      "$BUILD_DIR/streamer-bench" async --url "ws://127.0.0.1:$PORT_REDIS_GW/production?Authorization=$TOKEN" \
        --label monitor --warmup 0.3 --duration 3.5 --out /dev/null "${ASYNC[@]}" >/dev/null &
      MONITORED=$!
      sleep 0.8
      probe monitor --port $PORT_REDIS_AOF --seconds 2 --jobs-pattern 's:\{[0-9]+\}:seq' \
        --label "streamer:redis-monitor" --out "$RAW"
      wait $MONITORED || true
      # Execution time per job by script (SLOWLOG at threshold 0 under the same load).
      slowlog_under_load streamer $PORT_REDIS_GW 's:{*}:seq'
      # Submit -> start (first progress or result) at half of the closed loop's maximum.
      rate=$(python3 -c "print(max(50, int($(median_of streamer-redis:async) * 0.5)))")
      bench streamer-redis open-0.5 $PORT_REDIS_GW "$GP,$WP" async-open --connections 100 --rate "$rate" \
        --delay-ms 0 --steps 1
      stop $WP; stop $GP; stop $RP
      # The BullMQ peer on a fresh Redis of the same configuration.
      redis_aof redis-bullmq
      start bullmq-aof node "$ROOT/bench/peers/bullmq-server.mjs" --port $PORT_BULLMQ --redis-port $PORT_REDIS_AOF \
        --secret "$SECRET" --concurrency 64 --max-seconds $LIFETIME
      BP=$SERVER_PID
      wait_port $PORT_BULLMQ
      redis_costs bullmq 'bull:*:id' bench bullmq-redis async $PORT_BULLMQ "$RP" async "${ASYNC[@]}"
      slowlog_under_load bullmq $PORT_BULLMQ 'bull:*:id'
      stop $BP; stop $RP ;;
    remote)
      if [[ ! -x $BUILD_DIR/streamer ]]; then log "no $BUILD_DIR/streamer: skipped"; continue; fi
      if [[ ! -f $ROOT/sdk/typescript/dist/index.js ]]; then
        log "building the TypeScript SDK (sdk/typescript/dist) for its StreamerWorker"
        (cd "$ROOT/sdk/typescript" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund >/dev/null; } \
          && npm run build >/dev/null) || log "TypeScript SDK not built: its worker is skipped"
      fi
      # Streamer's side: streamer-bench (the client of every other section) drives each
      # worker's action for $DURATION s; BullMQ's side: a Node producer, $REMOTE_JOBS jobs.
      REMOTE_ARGS=(--binary "$BUILD_DIR/streamer" --driver bench --duration "$DURATION" --clients $REMOTE_CLIENTS
        --in-flight $REMOTE_IN_FLIGHT --concurrency "$REMOTE_CONCURRENCY" --timeout 120 --jsonl "$RAW")
      for i in $(seq "$RUNS"); do
        log "remote workers, embedded store, run $i/$RUNS"
        "$PYTHON" "$ROOT/bench/remote_workers.py" "${REMOTE_ARGS[@]}" >/dev/null 2>&1 || log "remote workers failed"
        redis_aof redis-remote
        log "remote workers, Redis store, run $i/$RUNS"
        "$PYTHON" "$ROOT/bench/remote_workers.py" "${REMOTE_ARGS[@]}" --store "redis://127.0.0.1:$PORT_REDIS_AOF/0" \
          --label-suffix=-redis >/dev/null 2>&1 || log "remote workers on Redis failed"
        stop $RP
      done
      for lang in node python; do
        if [[ $lang = python && ! -x $ROOT/bench/.venv-peers/bin/python ]]; then
          log "no bench/.venv-peers (make bench-peers): BullMQ Python worker skipped"; continue
        fi
        redis_aof "redis-bullmq-$lang"
        WORKER_ARGS=(--queue bench-noop --redis-port $PORT_REDIS_AOF --concurrency "$REMOTE_CONCURRENCY"
          --max-seconds $LIFETIME)
        if [[ $lang = node ]]; then
          start bullmq-node-worker node "$ROOT/bench/peers/bullmq-noop-worker.mjs" "${WORKER_ARGS[@]}"
        else
          start bullmq-python-worker "$ROOT/bench/.venv-peers/bin/python" "$ROOT/bench/peers/bullmq_noop_worker.py" \
            "${WORKER_ARGS[@]}"
        fi
        BW=$SERVER_PID
        for i in $(seq "$RUNS"); do
          log "BullMQ $lang worker ($REMOTE_JOBS jobs), run $i/$RUNS"
          node "$ROOT/bench/peers/bullmq-noop-producer.mjs" --queue bench-noop --redis-port $PORT_REDIS_AOF \
            --jobs "$REMOTE_JOBS" --in-flight $(( REMOTE_CLIENTS * REMOTE_IN_FLIGHT )) --warmup 200 \
            --timeout 120 --label "bullmq-$lang-worker:noop" --out "$RAW" >/dev/null || log "BullMQ $lang worker failed"
        done
        stop $BW; stop $RP
      done ;;
    store)
      # No server: the store library alone, so RUNS alternating runs of each backlog.
      if [[ ! -x $BUILD_DIR/store-rounds ]]; then log "no $BUILD_DIR/store-rounds: skipped"; continue; fi
      for i in $(seq "$RUNS"); do
        for backlog in 0 900; do
          log "store rounds, backlog $backlog, run $i/$RUNS"
          "$BUILD_DIR/store-rounds" --backlog $backlog >>"$RAW" || log "store rounds failed"
        done
      done ;;
    process) data_process ;;
    report) data_report ;;
    *) log "unknown target $target" ;;
  esac
done

if [[ -s $RAW ]]; then python3 "$ROOT/bench/report.py" --quick "$QUICK" --write "$RESULTS" "$RAW"; fi
if [[ -s $DATA_RAW ]]; then python3 "$ROOT/bench/data_report.py" "$DATA_RAW"; fi
