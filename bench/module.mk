# bench/: benchmarks. Each bench/<name>/bench.mk adds a target to
# BENCH_TARGETS; `make bench` runs them all (release build). Every benchmark
# prints its figures as a ratio against a baseline measured in the same run.
BENCH_TARGETS :=
-include $(wildcard bench/*/bench.mk)
bench-all: $(BENCH_TARGETS)
