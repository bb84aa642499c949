#!/usr/bin/env bash
# `make run`: starts the server on the embedded store with a development secret,
# seeds the demo dataset for the development tenant, and prints a token and a URL.
# Settings: STREAMER_LISTEN (127.0.0.1:8080), STREAMER_DATA_DIR (./data),
# STREAMER_JWT_SECRET (random per data dir, kept in DATA_DIR/dev-secret).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/streamer}
LISTEN=${STREAMER_LISTEN:-127.0.0.1:8080}
DATA_DIR=${STREAMER_DATA_DIR:-./data}
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
TOKEN=$("$BIN" token --sub dev-user --tenant "$TENANT" --permissions read,write --ttl 86400)
cat <<MSG

  Streamer is starting on ws://$LISTEN/production (data in $DATA_DIR)

  Development token (24 h, tenant $TENANT, permissions read,write):
    $TOKEN

  Paste into any WebSocket client:
    ws://$LISTEN/production?Authorization=$TOKEN
  then send:
    {"id":"1","action":"health"}

  Or from this terminal:
    build/streamer call health --url ws://$LISTEN/production --token $TOKEN
    build/streamer call generate_report '{"start_date":"2024-01-01","end_date":"2024-03-31","format":"pdf","report_type":"monthly","include_charts":true}' --url ws://$LISTEN/production --token $TOKEN

MSG
exec "$BIN" serve --listen "$LISTEN" --data-dir "$DATA_DIR" --public-url "http://$LISTEN" --enable-delay
