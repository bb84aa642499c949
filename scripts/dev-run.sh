#!/usr/bin/env bash
# `make run`: starts the server on the embedded store with a development secret,
# seeds demo data for the development tenant (the sales dataset of generate_report and
# the sandbox file /data/input.csv of the API reference's process_data example), and
# once the server answers `health`, prints a token and a URL. If the server cannot
# start (port in use, bad setting) its one-line reason is all that is printed.
# Settings: STREAMER_LISTEN (127.0.0.1:8080), STREAMER_DATA_DIR (./data),
# STREAMER_JWT_SECRET (random per data dir, kept in DATA_DIR/dev-secret).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/streamer}
LISTEN=${STREAMER_LISTEN:-127.0.0.1:8080}
DATA_DIR=${STREAMER_DATA_DIR:-./data}
# A port already taken gets one clear line before anything starts (the server says the
# same if it loses a race for the port; the health probe below must not reach another
# server).
probe_host=${LISTEN%:*}
probe_host=${probe_host#[}
probe_host=${probe_host%]}
[[ $probe_host == 0.0.0.0 ]] && probe_host=127.0.0.1
[[ $probe_host == :: ]] && probe_host=::1
if (exec 3<>"/dev/tcp/$probe_host/${LISTEN##*:}") 2>/dev/null; then
  echo "make run: cannot listen on $LISTEN: the port is already in use (is another streamer" \
    "running?); stop it or choose another port: STREAMER_LISTEN=127.0.0.1:8081 make run" >&2
  exit 1
fi

mkdir -p "$DATA_DIR"
if [[ -z ${STREAMER_JWT_SECRET:-} ]]; then
  if [[ ! -s $DATA_DIR/dev-secret ]]; then
    (umask 077 && openssl rand -hex 32 > "$DATA_DIR/dev-secret")
  fi
  STREAMER_JWT_SECRET=$(cat "$DATA_DIR/dev-secret")
fi
export STREAMER_JWT_SECRET
TENANT=dev-tenant
if [[ ! -f $DATA_DIR/datasets/sales.db ]]; then
  "$BIN" seed-data --data-dir "$DATA_DIR" --tenant "$TENANT" --rows 100000
fi
# process_data's `file` source reads <data-dir>/files/<tenant>/<path>.
if [[ ! -f $DATA_DIR/files/$TENANT/data/input.csv ]]; then
  scripts/sample-input.sh "$DATA_DIR/files/$TENANT/data/input.csv"
fi
if [[ -f $DATA_DIR/dev-secret && $STREAMER_JWT_SECRET == "$(cat "$DATA_DIR/dev-secret")" ]]; then
  secret_arg=" --jwt-secret \"\$(cat $DATA_DIR/dev-secret)\""
else
  secret_arg=""  # STREAMER_JWT_SECRET of the caller's environment
fi
TOKEN=$("$BIN" token --sub dev-user --tenant "$TENANT" --permissions read,write --ttl 86400)
URL="ws://$LISTEN/production"

# libgomp (XGBoost in process_data) reads this before main(): no spinning threads.
GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-0} "$BIN" serve --listen "$LISTEN" --data-dir "$DATA_DIR" --public-url "http://$LISTEN" --enable-delay &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' INT TERM
# Wait until the server answers health (or has exited, having said why).
until "$BIN" call health --url "$URL" --token "$TOKEN" --timeout 2 >/dev/null 2>&1; do
  if ! kill -0 "$server" 2>/dev/null; then
    wait "$server" && status=0 || status=$?
    exit $((status == 0 ? 1 : status))
  fi
  sleep 0.2
done

cat <<MSG

  Streamer is running on $URL (data in $DATA_DIR)

  Development token (24 h, tenant $TENANT, permissions read,write):
    $TOKEN

  Paste into any WebSocket client:
    $URL?Authorization=$TOKEN
  then send:
    {"id":"1","action":"health"}

  Or from another terminal:
    TOKEN=\$($BIN token$secret_arg --sub dev-user --tenant $TENANT --permissions read,write)
    $BIN call health --url $URL --token "\$TOKEN"
    $BIN call generate_report '{"start_date":"2024-01-01","end_date":"2024-03-31","format":"pdf","report_type":"monthly","include_charts":true}' --url $URL --token "\$TOKEN"
    $BIN call process_data '{"pipeline":"classification","data_source":{"type":"file","path":"/data/input.csv"},"output":{"format":"json"}}' --url $URL --token "\$TOKEN"

MSG
# Until the server exits (a signal to this script is passed on to it).
while kill -0 "$server" 2>/dev/null; do wait "$server" || true; done
wait "$server"
