# tests/: unit tests and fuzz targets.
#
# Unit tests mirror the tree (tests/unit/<dir>/test_<file>.c). Each <dir>
# gets its own runner binary linked with only the layers it may use, so a
# broken module never stops another module's tests from building:
#   lib: lib   injector: lib injector   cli/webhook: + their own
#   operator/agent: lib + their own
# `make unit` runs them all (scripts/unit.sh sums "N passed, N failed").
unit_layers_lib := LIB
unit_layers_injector := LIB INJ
unit_layers_cli := LIB INJ CLI
unit_layers_webhook := LIB INJ WEBHOOK
unit_layers_operator := LIB OPERATOR
unit_layers_agent := LIB AGENT
unit_layer_srcs = $(foreach l,$(unit_layers_$(1)),$($(l)_SRCS))

UNIT_DIRS := $(filter-out support,$(notdir $(wildcard tests/unit/*)))
UNIT_DIRS := $(foreach d,$(UNIT_DIRS),$(if $(wildcard tests/unit/$(d)/test_*.c),$(d)))
UNIT_BINS := $(patsubst %,$(O)/tests/unit_%,$(UNIT_DIRS))

$(O)/tests/unit_%: $(O)/tests/unit/runner.o \
    $$(call objs,$$(wildcard tests/unit/$$*/test_*.c) $$(call unit_layer_srcs,$$*))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# Tests find fixtures relative to the repo root and binaries via MZ_BINDIR.
unit-build: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@MZ_BINDIR=$(BINDIR) scripts/unit.sh $(UNIT_BINS) -- $(T)

# Fuzz targets link only the layers they exercise (default: lib), like the
# unit runners, so one broken module never breaks another's fuzz build.
fuzz_layers_annotations := LIB INJ
fuzz_layers_inject := LIB INJ
fuzz_layers_admission := LIB INJ WEBHOOK
fuzz_layers_iptables := LIB AGENT
fuzz_layers_probers := LIB AGENT
fuzz_layers_opsecret := LIB OPERATOR
fuzz_layer_srcs = $(foreach l,$(or $(fuzz_layers_$(1)),LIB),$($(l)_SRCS))
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

$(O)/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(FUZZ_DRIVER) \
    $$(call objs,$$(call fuzz_layer_srcs,$$*))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(FUZZ_LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

fuzz: $(FUZZ_BINS)

# Replays every file of tests/fuzz/corpus/<name>/ through its target.
fuzz-replay: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(O)/fuzz/fuzz_$$n tests/fuzz/corpus/$$n; done
