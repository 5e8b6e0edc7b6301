# bench/ca: certificates issued per second by lib/pki (fresh ECDSA P-256
# key + pki_issue + chain PEM + key PEM), on 1 and 2 threads, against the
# baseline `openssl speed -seconds 3 ecdsap256` measured in the same run.
BENCH_TARGETS += bench-ca
.PHONY: bench-ca

$(O)/bench/bench_ca: $(call objs,bench/ca/bench_ca.c $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

bench-ca: $(O)/bench/bench_ca
	$(O)/bench/bench_ca --seconds 3 --threads 2
