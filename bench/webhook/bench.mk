# bench/webhook: mizzen-webhook under wrk over TLS keep-alive (1 and 16
# connections) against nginx returning a fixed response of the same size
# over TLS with the same certificate, measured in the same run; plus the
# latency of a 2000-env pod and the webhook's peak RSS. Release binaries.
BENCH_TARGETS += bench-webhook
.PHONY: bench-webhook

bench-webhook: $(BINDIR)/mizzen-webhook
	MZ_BINDIR=$(BINDIR) bench/webhook/run.sh
