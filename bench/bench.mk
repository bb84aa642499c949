# Benchmarks (BENCHMARKS.md), included by the top-level Makefile.
#   make bench         full run (~18 min, Redis mode included, plus the data sections:
#                      process_data vs scikit-learn and Excel vs XlsxWriter on 1M rows, a
#                      few minutes on a quiet machine): tables on stdout, JSON under bench/results/
#   make bench-quick   the same scenarios once, short windows, data sections on 100k rows
#   make bench-peers   only the pinned pandas/scikit-learn/pyarrow/XlsxWriter virtualenv
#                      (bench/.venv-peers) of the data sections; `make test` never needs it
BENCH_BUILD_DIR ?= build

.PHONY: bench bench-quick bench-peers
bench: bench-peers
	BUILD_DIR=$(BENCH_BUILD_DIR) bench/run.sh $(BENCH_ARGS)

bench-quick: bench-peers
	BUILD_DIR=$(BENCH_BUILD_DIR) bench/run.sh --quick $(BENCH_ARGS)

bench-peers:
	@scripts/setup.sh --bench-peers
