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

echo "== C++ formatting (make format-check: every tracked file matches .clang-format)"
make --no-print-directory format-check >/dev/null || { make --no-print-directory format-check 2>&1 | head -20; failed+=(format); }

echo "== C++ unit tests (ctest)"
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$(nproc)") || failed+=(ctest)

# The TypeScript SDK is built (npm ci runs its `prepare`: tsc) before pytest: the Python
# SDK's cross-language tests run a TypeScript worker from sdk/typescript/dist.
echo "== TypeScript SDK build (npm ci)"
(cd sdk/typescript && npm ci --no-audit --no-fund --loglevel=error) || failed+=(typescript-build)

echo "== end-to-end and Python SDK tests (pytest)"
.venv/bin/python -m pytest tests/e2e sdk/python/tests -q -p no:cacheprovider || failed+=(pytest)
echo "== Python SDK type check (mypy --strict)"
(cd sdk/python && ../../.venv/bin/mypy --strict) || failed+=(mypy)

echo "== TypeScript SDK tests (node --test)"
(cd sdk/typescript && npm test) || failed+=(typescript)

echo "== web console in headless Chromium (tests/browser, playwright-core)"
(cd tests/browser && npm test) || failed+=(browser)

echo "== Debian package: build, install, start, call health, remove (make package-test)"
BUILD_DIR=$BUILD_DIR timeout 600 scripts/package-test.sh || failed+=(package)

echo "== fuzz targets, ${FUZZ_CI_SECONDS:-12} s each (make fuzz-ci)"
make --no-print-directory fuzz-ci || failed+=(fuzz)

# ctest and the e2e suite against an ASan + UBSan build (build-asan, cmake/asan.mk).
if [[ "${STREAMER_ASAN:-1}" == 1 ]]; then
  echo "== sanitizer build: C++ unit tests and end-to-end tests (ASan + UBSan)"
  make --no-print-directory test-asan || failed+=(asan)
fi

if ((${#failed[@]})); then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "all test suites passed"
