# bench/inject: in-process injection of a typical pod and of a pod with 2000
# env vars (inj_pod_inject), against the baseline of a plain deep copy +
# serialization of the same pod, measured in the same run.
# bench-inject-icount: instructions per operation under callgrind (needs
# valgrind; skipped without it), repeatable on a loaded machine.
BENCH_TARGETS += bench-inject
.PHONY: bench-inject bench-inject-icount

$(O)/bench/bench_inject: $(call objs,bench/inject/bench_inject.c \
    $(INJ_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

bench-inject: $(O)/bench/bench_inject
	$(O)/bench/bench_inject

bench-inject-icount: $(O)/bench/bench_inject
	bench/inject/icount.sh $(O)/bench/bench_inject 20
