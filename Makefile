# Streamer: the two commands of the README, and the pieces they are made of.
#   make run    install what is missing, build, start the server (embedded store)
#   make test   install, build and run every test (C++, end-to-end, SDKs)
#   make install PREFIX=DIR   install the binary, unit, sample config (default /usr/local)
#   make package              build the .deb (build/streamer_VERSION_ARCH.deb)
#   make package-test         build, install, start and call the .deb (scripts/package-test.sh)
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
# Release keeps CI builds fast; use BUILD_TYPE=RelWithDebInfo for profiling.
BUILD_TYPE ?= Release
PREFIX ?= /usr/local
# ccache (if installed) shares compiled objects between work trees under the same parent.
export CCACHE_BASEDIR ?= $(abspath $(CURDIR)/..)

.PHONY: all setup build run test test-cpp test-e2e test-sdk-python test-sdk-typescript format format-check tidy clean \
	install package package-test

all: build

setup:
	@scripts/setup.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: setup $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/dev-run.sh

test: build
	@scripts/test.sh

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

package: build
	cd $(BUILD_DIR) && cpack -G DEB

package-test: build
	@BUILD_DIR=$(BUILD_DIR) scripts/package-test.sh

test-cpp: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

test-e2e: build
	.venv/bin/python -m pytest tests/e2e -q

test-sdk-python: build
	.venv/bin/python -m pytest sdk/python/tests -q

test-sdk-typescript: build
	cd sdk/typescript && npm ci --no-audit --no-fund && npm test

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# Fails (and names each file and line) when a tracked C++ file differs from .clang-format.
CLANG_FORMAT ?= clang-format-14
format-check:
	git ls-files -z '*.cpp' '*.hpp' | xargs -0 $(CLANG_FORMAT) --dry-run --Werror

tidy: $(BUILD_DIR)/build.ninja
	git ls-files 'src/*.cpp' | grep -v _test | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)

include bench/bench.mk
include cmake/asan.mk
include fuzz/fuzz.mk
