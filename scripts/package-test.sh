#!/usr/bin/env bash
# `make package-test`: builds the Debian package with CPack, installs it (`dpkg -i` when
# root, as on CI's throwaway machine; otherwise `dpkg -x` into a temporary directory, or
# always with PACKAGE_TEST_EXTRACT=1), checks the systemd unit with
# `systemd-analyze verify` (no output allowed), starts the installed binary with the
# installed sample config on a free loopback port, calls `health` with the installed
# binary, stops it with SIGTERM (exit 0 expected), and removes the package again
# (`dpkg --purge`). Every step is bounded in time. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
say() { echo "package-test: $*"; }
fail() { echo "package-test: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/streamer-package-test.XXXXXX)
installed=0
server=""
cleanup() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  if ((installed)); then dpkg --purge streamer >/dev/null 2>&1 || echo "package-test: dpkg --purge failed" >&2; fi
  rm -rf "$work"
}
trap cleanup EXIT

say "building the package (cpack -G DEB in $BUILD_DIR)"
rm -f "$BUILD_DIR"/streamer_*.deb
(cd "$BUILD_DIR" && timeout 300 cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$BUILD_DIR"/streamer_*_"$(dpkg --print-architecture)".deb)
depends=$(dpkg-deb --field "$deb" Depends)
say "$deb ($(du -h "$deb" | cut -f1)), Depends: $depends"
for lib in libssl3 libsqlite3-0 libboost-json1.81.0 fonts-dejavu-core; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib"
done
if dpkg-deb --contents "$deb" | grep -qiE 'secret|\.env$|\.key$|\.pem$'; then
  fail "the package ships a secret-looking file"
fi

if [[ $(id -u) -eq 0 && -z ${PACKAGE_TEST_EXTRACT:-} ]]; then
  if dpkg-query -W -f='${Status}' streamer 2>/dev/null | grep -q "ok installed"; then
    fail "a streamer package is already installed here; not touching it (PACKAGE_TEST_EXTRACT=1 to extract instead)"
  fi
  say "dpkg -i (root)"
  installed=1
  timeout 120 dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
  root=""
  unit=/usr/lib/systemd/system/streamer.service
else
  say "not root (or PACKAGE_TEST_EXTRACT set): dpkg -x into $work/root instead of dpkg -i"
  dpkg -x "$deb" "$work/root"
  root=$work/root
  # The unit names /usr/bin/streamer; verify a copy pointing at the extracted binary.
  sed "s|/usr/bin/streamer|$root/usr/bin/streamer|" "$root/usr/lib/systemd/system/streamer.service" \
    > "$work/streamer.service"
  unit=$work/streamer.service
fi
bin=$root/usr/bin/streamer
config=$root/etc/streamer/streamer.toml
[[ -x $bin && -f $config && -f $root/usr/lib/systemd/system/streamer.service ]] || fail "files missing after install"

if readelf -d "$bin" | grep -qE 'R(UN)?PATH'; then fail "installed binary has a RUNPATH/RPATH"; fi
if ldd "$bin" | grep -q "not found"; then ldd "$bin" >&2; fail "unresolved libraries"; fi

if command -v systemd-analyze >/dev/null; then
  verify=$(timeout 60 systemd-analyze verify "$unit" 2>&1) || { echo "$verify" >&2; fail "systemd-analyze verify"; }
  [[ -z $verify ]] || { echo "$verify" >&2; fail "systemd-analyze verify printed warnings"; }
  say "systemd-analyze verify: clean"
else
  fail "systemd-analyze not installed (Debian package systemd)"
fi

# Start it as the unit would (config file + secret from the environment), but on a free
# port (127.0.0.1:0, read back from the `listening` log line) and a scratch data dir,
# from / with a PATH that holds no virtualenv.
secret=$(openssl rand -hex 32)
(cd / && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin STREAMER_JWT_SECRET="$secret" \
  "$bin" serve --config "$config" --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/server.log" 2>&1) &
server=$!
port=""
for _ in $(seq 1 150); do
  port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$work/server.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [[ -n $port ]] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; fail "the installed server exited at start"; }
  sleep 0.1
done
[[ -n $port ]] || { cat "$work/server.log" >&2; fail "the installed server did not start listening in 15 s"; }
say "installed server listening on 127.0.0.1:$port"

token=$(STREAMER_JWT_SECRET=$secret "$bin" token --sub package-test --tenant package-test --ttl 300)
health=$(cd / && timeout 30 "$bin" call health --url "ws://127.0.0.1:$port/production" --token "$token" --timeout 20) \
  || { cat "$work/server.log" >&2; fail "call health"; }
[[ $health == *'"status":"healthy"'* ]] || fail "unexpected health answer: $health"
say "health: $health"

kill -TERM "$server"
rc=0
for _ in $(seq 1 300); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
wait "$server" || rc=$?
server=""
((rc == 0)) || { cat "$work/server.log" >&2; fail "server exit code $rc after SIGTERM"; }
say "stopped (exit 0)"

if ((installed)); then
  timeout 120 dpkg --purge streamer >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
  installed=0
  [[ ! -e /usr/bin/streamer && ! -e /etc/streamer/streamer.toml ]] || fail "files left after dpkg --purge"
  say "dpkg --purge: removed"
fi
say "ok"
