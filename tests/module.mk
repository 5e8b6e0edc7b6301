# tests/: unit tests (tests/unit/<dir>/test_<file>.c) linked into one runner,
# and fuzz targets (tests/fuzz/fuzz_<name>.c) with a replay driver so every
# corpus runs in every CI build, also under gcc.
UNIT_SRCS := tests/unit/runner.c $(wildcard tests/unit/*/test_*.c) \
             $(wildcard tests/unit/support/*.c)
UNIT_BIN := $(O)/tests/unit_tests
MODULE_OBJS = $(call objs,$(MODULE_SRCS) $(GEN_SRCS))

$(UNIT_BIN): $(call objs,$(UNIT_SRCS)) $$(MODULE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# Tests find fixtures relative to the repo root and binaries via MZ_BINDIR.
unit: $(UNIT_BIN)
	MZ_BINDIR=$(BINDIR) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(UNIT_BIN) $(T)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
ifeq ($(BUILD),fuzz)
FUZZ_DRIVER :=
FUZZ_LDFLAGS := -fsanitize=fuzzer
else
FUZZ_DRIVER := $(O)/tests/fuzz/replay.o
FUZZ_LDFLAGS :=
endif
FUZZ_BINS := $(patsubst %,$(O)/fuzz/fuzz_%,$(FUZZ_NAMES))

$(O)/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(FUZZ_DRIVER) $$(MODULE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(FUZZ_LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

fuzz: $(FUZZ_BINS)

# Replays every file of tests/fuzz/corpus/<name>/ through its target.
fuzz-replay: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(O)/fuzz/fuzz_$$n tests/fuzz/corpus/$$n; done
