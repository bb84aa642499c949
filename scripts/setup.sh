#!/usr/bin/env bash
# Installs every dependency Streamer needs, pinned, on a fresh Debian 12 machine.
# Idempotent: packages already present at the pinned version are skipped quickly.
#   scripts/setup.sh            # C++ toolchain + libraries + test clients
#   SETUP_SKIP_PYTHON=1 ...     # skip the PyPI part
#   scripts/setup.sh --bench-peers   # only the data-science peers of `make bench`
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned pandas / scikit-learn / pyarrow / XlsxWriter virtualenv that `make bench`
# compares process_data and generate_report with (bench/peers/requirements-ml.txt).
# Only `make bench` asks for it: the tests never need it.
if [[ ${1:-} == --bench-peers ]]; then
  if [[ ! -x bench/.venv-peers/bin/python ]]; then python3 -m venv bench/.venv-peers; fi
  if ! cmp -s bench/peers/requirements-ml.txt bench/.venv-peers/.installed 2>/dev/null; then
    echo "setup: installing the bench peers (bench/peers/requirements-ml.txt)"
    bench/.venv-peers/bin/pip install -q --disable-pip-version-check -r bench/peers/requirements-ml.txt
    cp bench/peers/requirements-ml.txt bench/.venv-peers/.installed
  fi
  exit 0
fi

# Debian 12 (bookworm) packages, pinned to the versions this project is tested with.
# If the mirror has moved on to a newer point release, we fall back to the candidate
# of the same package rather than failing (and say so).
APT_PACKAGES=(
  build-essential=12.9
  cmake=3.25.1-1
  ninja-build=1.11.1-2~deb12u1
  pkg-config=1.8.1-1
  libboost1.81-dev=1.81.0-5+deb12u1
  libboost-json1.81-dev=1.81.0-5+deb12u1
  libboost-url1.81-dev=1.81.0-5+deb12u1
  libboost-system1.81-dev=1.81.0-5+deb12u1
  libssl-dev
  libsqlite3-dev=3.40.1-2+deb12u2
  sqlite3=3.40.1-2+deb12u2
  libtomlplusplus-dev=3.3.0+ds-1
  libcli11-dev=2.1.2+ds-1
  libspdlog-dev=1:1.10.0+ds-0.4
  libfmt-dev=9.1.0+ds1-2
  libgtest-dev=1.12.1-0.2
  libgmock-dev=1.12.1-0.2
  libbenchmark-dev=1.7.1-1
  libxlsxwriter-dev=1.1.4-2+b1
  libcairo2-dev=1.16.0-7
  libpango1.0-dev=1.50.12+ds-1
  fonts-dejavu-core
  libopencv-dev=4.6.0+dfsg-12
  # process_data's boosted trees (XGBoost's C API)
  libxgboost-dev=1.7.4-1
  libhiredis-dev=0.14.1-3
  redis-server=5:7.0.15-1~deb12u10
  redis-sentinel=5:7.0.15-1~deb12u10
  ccache=4.8+really4.7.5-1
  clang-14=1:14.0.6-12
  libclang-rt-14-dev=1:14.0.6-12
  poppler-utils=22.12.0-2+deb12u3
  clang-format=1:14.0-55.7~deb12u1
  clang-tidy=1:14.0-55.7~deb12u1
  # make package-test: `systemd-analyze verify` of the unit, `file` for CPack's
  # dpkg-shlibdeps step (dpkg-dev comes with build-essential).
  systemd=252.38-1~deb12u1
  file=1:5.44-3
  python3-venv
  nodejs
  npm
  # The web console's browser tests (tests/browser) drive this Chromium headless.
  chromium=156.0.8078.114-1~deb12u1
)

have_pkg() { # have_pkg NAME[=VERSION] -> 0 when installed (at that version if given)
  local name=${1%%=*} want=${1#*=} got
  got=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null) || return 1
  [[ $got == "install ok installed "* ]] || return 1
  [[ $1 != *=* ]] && return 0
  [[ ${got##* } == "$want" ]]
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  name=${p%%=*}
  # node/npm usually come from the machine image (Node 20); keep them if present.
  if [[ $name == nodejs || $name == npm ]] && command -v "$name" >/dev/null 2>&1; then continue; fi
  if [[ $name == nodejs ]] && command -v node >/dev/null 2>&1; then continue; fi
  have_pkg "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/streamer-apt.log 2>&1; then
    echo "setup: pinned install failed (mirror moved?); retrying with current candidates" >&2
    tail -5 /tmp/streamer-apt.log >&2 || true
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]%%=*}"
  fi
fi

# The Parquet writer (rust/parquet_ffi) is built by cargo during `make build`; Rust is
# not taken from Debian (bookworm's rustc is too old for the pinned parquet crate).
cargo_bin=$(command -v cargo || echo "${CARGO_HOME:-$HOME/.cargo}/bin/cargo")
if [[ ! -x $cargo_bin ]]; then
  echo "setup: cargo not found: the Parquet writer (rust/parquet_ffi) needs Rust >= 1.88 (install it with rustup)" >&2
  exit 1
fi
rust_version=$("$cargo_bin" --version | awk '{print $2}')
if [[ $(printf '%s\n' 1.88.0 "$rust_version" | sort -V | head -1) != 1.88.0 ]]; then
  echo "setup: cargo $rust_version is too old: rust/parquet_ffi needs Rust >= 1.88 (rustup update)" >&2
  exit 1
fi

# Python test clients and readers, pinned, in a project-local virtualenv.
if [[ -z ${SETUP_SKIP_PYTHON:-} ]]; then
  if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
  if ! cmp -s requirements-dev.txt .venv/.installed 2>/dev/null; then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
    cp requirements-dev.txt .venv/.installed
  fi
fi
# The web console's browser tests: playwright-core only (pinned in
# tests/browser/package-lock.json); it drives the Debian chromium above and never
# downloads a browser of its own.
if ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.package-lock.json.installed 2>/dev/null; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp tests/browser/package-lock.json tests/browser/node_modules/.package-lock.json.installed
fi
echo "setup: ok"
