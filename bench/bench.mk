# Benchmarks (issue 7), included by the top-level Makefile.
#   make bench         full run (~15 min): table on stdout, JSON under bench/results/
#   make bench-quick   the same scenarios once, short windows (< 2 min once built)
BENCH_BUILD_DIR ?= build

.PHONY: bench bench-quick
bench:
	BUILD_DIR=$(BENCH_BUILD_DIR) bench/run.sh $(BENCH_ARGS)

bench-quick:
	BUILD_DIR=$(BENCH_BUILD_DIR) bench/run.sh --quick $(BENCH_ARGS)
