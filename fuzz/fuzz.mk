# libFuzzer targets (docs/fuzzing.md), included by the top-level Makefile.
#   make fuzz      build, then run every target for FUZZ_SECONDS (default 60) each
#   make fuzz-ci   build, then run every target briefly (FUZZ_CI_SECONDS, default 12);
#                  fails on any finding and prints the reproducer's path
# A separate tree (FUZZ_BUILD_DIR, default build-fuzz) is configured with clang and
# -DSTREAMER_BUILD_FUZZ=ON; crash inputs land in $(FUZZ_BUILD_DIR)/artifacts/<target>/.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_CC ?= clang-14
FUZZ_CXX ?= clang++-14
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 12
FUZZ_TARGETS ?=

.PHONY: fuzz fuzz-ci fuzz-build

# Warnings are not errors in this tree: clang's warning set differs from GCC's, which
# the Release build (`make build`) holds to -Werror; a clang-only warning should not
# keep the fuzzers from being built.
$(FUZZ_BUILD_DIR)/build.ninja: CMakeLists.txt fuzz/CMakeLists.txt fuzz/sanitize.cmake
	CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja \
	  -DCMAKE_BUILD_TYPE=Release -DSTREAMER_BUILD_FUZZ=ON -DSTREAMER_WERROR=OFF

fuzz-build: $(FUZZ_BUILD_DIR)/build.ninja
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	FUZZ_BUILD_DIR=$(FUZZ_BUILD_DIR) fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci: fuzz-build
	FUZZ_BUILD_DIR=$(FUZZ_BUILD_DIR) fuzz/run.sh --seconds $(FUZZ_CI_SECONDS) $(FUZZ_TARGETS)
