#!/usr/bin/env bash
# Runs every test suite after `make build`: C++ unit tests (ctest), end-to-end tests
# against the real binary (pytest), both SDKs, the web console in headless Chromium
# (tests/browser), the Debian package (build, install, start, remove:
# scripts/package-test.sh), a bounded run of every fuzz target, and the unit and
# end-to-end tests again against an ASan + UBSan build (STREAMER_ASAN=0 skips that one
# locally). Prints one summary line and exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
failed=()
# Each stage prints the seconds since the start, so a CI log shows where the time goes
# (CI allows 90 minutes; we keep the whole run under 45).
stage() { echo "== $* [${SECONDS} s]"; }

stage "C++ formatting (make format-check: every tracked file matches .clang-format)"
make --no-print-directory format-check >/dev/null || { make --no-print-directory format-check 2>&1 | head -20; failed+=(format); }

stage "C++ unit tests (ctest)"
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$(nproc)") || failed+=(ctest)

# The TypeScript SDK is built (npm ci runs its `prepare`: tsc) before pytest: the Python
# SDK's cross-language tests run a TypeScript worker from sdk/typescript/dist.
stage "TypeScript SDK build (npm ci)"
(cd sdk/typescript && npm ci --no-audit --no-fund --loglevel=error) || failed+=(typescript-build)

# The fuzzing and sanitizer trees are compiled in the background, at the lowest CPU
# priority, while the end-to-end suite runs: it mostly waits on sockets and timers, so
# the compilers take its idle CPU (about ten minutes of a CI run) and yield at once when
# a test needs it. The stages below wait for it; their own `make` then only checks that
# the trees are up to date (and shows any compile error).
prebuild_targets=(fuzz-build)
[[ "${STREAMER_ASAN:-1}" == 1 ]] && prebuild_targets+=(build-asan)
nice -n 19 make --no-print-directory "${prebuild_targets[@]}" >"$BUILD_DIR/prebuild.log" 2>&1 &
prebuild_pid=$!

stage "end-to-end and Python SDK tests (pytest)"
.venv/bin/python -m pytest tests/e2e sdk/python/tests -q -p no:cacheprovider || failed+=(pytest)
stage "Python SDK type check (mypy --strict)"
(cd sdk/python && ../../.venv/bin/mypy --strict) || failed+=(mypy)

stage "TypeScript SDK tests (node --test)"
(cd sdk/typescript && npm test) || failed+=(typescript)

stage "web console in headless Chromium (tests/browser, playwright-core)"
(cd tests/browser && npm test) || failed+=(browser)

stage "Debian package: build, install, start, call health, remove (make package-test)"
BUILD_DIR=$BUILD_DIR timeout 600 scripts/package-test.sh || failed+=(package)

wait "$prebuild_pid" || echo "background build of ${prebuild_targets[*]} failed ($BUILD_DIR/prebuild.log); the stages below rebuild"
stage "fuzz targets, ${FUZZ_CI_SECONDS:-12} s each (make fuzz-ci)"
make --no-print-directory fuzz-ci || failed+=(fuzz)

# ctest and the e2e suite against an ASan + UBSan build (build-asan, cmake/asan.mk).
if [[ "${STREAMER_ASAN:-1}" == 1 ]]; then
  stage "sanitizer build: C++ unit tests and end-to-end tests (ASan + UBSan)"
  make --no-print-directory test-asan || failed+=(asan)
fi

if ((${#failed[@]})); then
  echo "FAILED suites: ${failed[*]} (after ${SECONDS} s)"
  exit 1
fi
echo "all test suites passed in ${SECONDS} s"
