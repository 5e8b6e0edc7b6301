# bench/webhook: mizzen-webhook under wrk over TLS keep-alive (1 and 16
# connections) against nginx returning a fixed response of the same size
# over TLS with the same certificate, measured alternately in the same run;
# plus the latency of a 2000-env pod and the webhook's peak RSS. Release
# binaries. bench_admission is the in-process driver of the pure path
# (decode -> inject -> encode -> log line), for callgrind and perf.
BENCH_TARGETS += bench-webhook
.PHONY: bench-webhook bench-webhook-icount

$(O)/bench/bench_admission: $(call objs,bench/webhook/bench_admission.c \
    $(WEBHOOK_SRCS) $(INJ_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

bench-webhook: $(BINDIR)/mizzen-webhook $(O)/bench/bench_admission
	MZ_BINDIR=$(BINDIR) BENCH_ADMISSION=$(O)/bench/bench_admission \
	    bench/webhook/run.sh

# bench-webhook-icount: instructions per admission under callgrind (N and
# 2N admissions, the difference divided by N): the figures in
# docs/webhook.md ("Instructions per admission").
bench-webhook-icount: $(O)/bench/bench_admission
	bench/webhook/icount.sh $(O)/bench/bench_admission 200
