#!/usr/bin/env bash
# Runs the libFuzzer targets built in $FUZZ_BUILD_DIR (default build-fuzz) one after
# the other, each for a bounded time, on the seed corpus of fuzz/corpus/<target> plus a
# working corpus in $FUZZ_BUILD_DIR/corpus/<target> (new inputs go there, never into
# the repo). A crash, leak, timeout or broken invariant leaves its input in
# $FUZZ_BUILD_DIR/artifacts/<target>/; the script prints that path and how to
# reproduce it, runs the remaining targets, and exits non-zero.
#
#   fuzz/run.sh [--seconds N] [target ...]    (default: every target, 60 s each)
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-fork=1 -ignore_crashes=1" to keep
# going past a known crash in a long run.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
ALL_TARGETS=(ws_frames request jwt jwks csv jsonl sql upload_path proxy_header)

targets=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

dict_for() {
  case "$1" in
    request|jsonl) echo fuzz/dict/json.dict ;;
    jwt|jwks|csv|sql|upload_path) echo "fuzz/dict/$1.dict" ;;
  esac
}
max_len_for() {
  case "$1" in
    jwks) echo 8192 ;;
    sql|upload_path) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

mkdir -p "$BUILD_DIR/logs"
failed=()
printf '%-12s %8s %8s %10s %8s %6s  %s\n' target seconds cpu_s execs exec/s cov result
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/fuzzers/fuzz_$t"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: $bin is missing (make fuzz-build)" >&2
    failed+=("$t")
    continue
  fi
  corpus="$BUILD_DIR/corpus/$t"
  artifacts="$BUILD_DIR/artifacts/$t"
  log="$BUILD_DIR/logs/$t.log"
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2048 -max_len="$(max_len_for "$t")"
        -artifact_prefix="$artifacts/" -print_final_stats=1)
  # shellcheck disable=SC2206
  args+=(${FUZZ_ARGS:-})
  dict=$(dict_for "$t")
  [[ -n "$dict" ]] && args+=(-dict="$dict")
  # Temp data of the sql/upload_path targets lives here (a crash skips their cleanup).
  tmp="$BUILD_DIR/tmp/$t"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$(date +%s)
  TIMEFORMAT='%U %S'  # CPU seconds (user, system) of the fuzzer process, from `time`
  cpu=$( { time TMPDIR="$(realpath "$tmp")" "$bin" "${args[@]}" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1; echo "rc $?" >"$log.rc"; } 2>&1 )
  rc=$(sed -n 's/^rc //p' "$log.rc")
  cpu=$(awk '{printf "%d", $1 + $2}' <<<"$cpu")
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if ((rc == 0)); then
    printf '%-12s %8s %8s %10s %8s %6s  %s\n' "$t" "$elapsed" "$cpu" "${execs:-?}" "${speed:-?}" "${cov:-?}" ok
    continue
  fi
  failed+=("$t")
  printf '%-12s %8s %8s %10s %8s %6s  %s\n' "$t" "$elapsed" "$cpu" "${execs:-?}" "${speed:-?}" "${cov:-?}" "FAILED (exit $rc)"
  reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  echo "---- $t: last lines of $log"
  grep -v '^#[0-9]' "$log" | tail -40
  if [[ -n "$reproducer" ]]; then
    echo "---- $t: reproducer: $reproducer"
    echo "     reproduce: $bin $reproducer"
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED targets: ${failed[*]} (artifacts under $BUILD_DIR/artifacts/)"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${SECONDS_EACH}s each without a finding"
