# bench/operator: operator start to every workload Secret issued, for 1000
# ServiceAccounts against the emulator, beside the emulator's own in-process
# store of as many Secrets (same run). Figures only; never pass/fail.
BENCH_TARGETS += bench-operator
.PHONY: bench-operator

bench-operator: all
	MZ_BINDIR=$(BINDIR) bench/operator/run.sh
