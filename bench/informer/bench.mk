# bench/informer: the informer's event path (selective parse -> projection ->
# slim store + indexes -> handlers) on 10k generated pod watch events, vs the
# baseline of plain JSON parsing of the same lines and of holding the full
# documents, measured in the same run; then, when the emulator can run, a
# live list + watch of 10k pods (bench/informer/live.sh).
BENCH_TARGETS += bench-informer
.PHONY: bench-informer

$(O)/bench/bench_informer: $(call objs,bench/informer/bench_informer.c \
    $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

bench-informer: $(O)/bench/bench_informer $(BINDIR)/informer_tool
	$(O)/bench/bench_informer
	MZ_BINDIR=$(BINDIR) bench/informer/live.sh
