# Sourced by bench/run.sh: the data-work sections of `make bench`.
#   process: process_bench (the real process_data handler, in-process) against the
#            scikit-learn peer (bench/peers/sklearn_peer.py) on the same generated CSV,
#            one process per pipeline and tool, one run each.
#   report:  report_bench's Excel report against the XlsxWriter peer
#            (bench/peers/xlsxwriter_peer.py) on the same seeded rows.
# Each record goes to $DATA_RAW as one JSON line {section, target, ...}; bench/data_report.py
# prints them side by side with ratios. Every command is bounded by `timeout`.
# Needs: BUILD_DIR, ROOT, WORK, DATA_RAW, DATA_ROWS, log().

PEER_PY=$ROOT/bench/.venv-peers/bin/python
# Both sides train on libgomp (XGBoost; scikit-learn's bundled copy), whose threads
# busy-wait at every barrier by default; on a shared machine a spinning thread takes
# the core its partner needs (measured: 47x slower rounds). Both get the same setting.
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-0}
DATA_TIMEOUT=${DATA_TIMEOUT:-900}   # seconds any one data run may take

# tag SECTION TARGET [LOAD0]: adds the two fields to the JSON line on stdin, and the 1-minute
# load average at the start (LOAD0, read before the run) and at the end (read once the
# producer closed its output), and appends it to $DATA_RAW.
tag() {
  python3 -c 'import json,sys
r=json.loads(sys.stdin.read().strip().splitlines()[-1])
r.update(section=sys.argv[1], target=sys.argv[2])
end=float(open("/proc/loadavg").read().split()[0])
r["load_avg"]=[float(sys.argv[3]), end] if len(sys.argv) > 3 and sys.argv[3] else [end, end]
print(json.dumps(r))' "$@" >>"$DATA_RAW"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

data_process() {
  cmake --build "$BUILD_DIR" --target process_bench -- -j2 >/dev/null
  local p dir
  for p in ${DATA_PIPELINES:-classification regression clustering anomaly}; do
    dir=$WORK/pb-$p
    log "process_data $p, $DATA_ROWS rows: streamer"
    timeout "$DATA_TIMEOUT" "$BUILD_DIR/src/handlers/process/process_bench" "$p" "$DATA_ROWS" parquet "$dir" \
      2>"$WORK/pb-$p.log" | tag process streamer "$(load1)" || log "process_bench $p failed"
    log "process_data $p, $DATA_ROWS rows: scikit-learn"
    timeout "$DATA_TIMEOUT" "$PEER_PY" "$ROOT/bench/peers/sklearn_peer.py" "$p" \
      "$dir/files/bench/data/input.csv" "$dir/sklearn.parquet" | tag process scikit-learn "$(load1)" ||
      log "sklearn peer $p failed"
    rm -rf "$dir"
  done
}

data_report() {
  cmake --build "$BUILD_DIR" --target report_bench -- -j2 >/dev/null
  local dir=$WORK/rb
  log "Excel report, $DATA_ROWS rows: streamer"
  local load0
  load0=$(load1)
  # report_bench seeds first (not timed), then runs the handler: "report: excel monthly in S s".
  timeout "$DATA_TIMEOUT" /usr/bin/time -f 'maxrss_kb %M' "$BUILD_DIR/src/handlers/report/report_bench" "$dir" \
    "$DATA_ROWS" excel monthly >"$WORK/rb.out" 2>"$WORK/rb.err" || log "report_bench failed"
  python3 - "$WORK/rb.out" "$WORK/rb.err" "$DATA_ROWS" <<'PY' | tag report streamer "$load0" || log "report_bench output unreadable"
import json, re, sys
out, err = open(sys.argv[1]).read(), open(sys.argv[2]).read()
secs = float(re.search(r"report: excel \S+ in ([0-9.]+) s", out).group(1))
rss = int(re.search(r"maxrss_kb (\d+)", err).group(1)) / 1024.0
print(json.dumps({"rows": int(sys.argv[3]), "seconds": secs, "peak_rss_mb": rss, "model_version": "libxlsxwriter"}))
PY
  log "Excel report, $DATA_ROWS rows: XlsxWriter"
  timeout "$DATA_TIMEOUT" "$PEER_PY" "$ROOT/bench/peers/xlsxwriter_peer.py" "$dir" "$WORK/peer.xlsx" |
    tag report XlsxWriter "$(load1)" || log "XlsxWriter peer failed"
  rm -rf "$dir" "$WORK/peer.xlsx"
}
