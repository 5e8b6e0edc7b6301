# mizzen: one non-recursive Makefile. Each folder adds its sources through its
# own module.mk; this file owns flags, the object rules and the top targets.
#
#   make                  build every binary (BUILD=release -> bin/)
#   make test             deps + every test: unit, unit under ASan+UBSan,
#                         fuzz corpus replay, lint, end-to-end
#   make demo             deps + the embedded default (emulator + operator +
#                         webhook + sample app)
#   make unit             unit tests of the current BUILD
#   make fuzz             libFuzzer binaries (clang) in build/fuzz/
#   make lint             clang-format check + scripts/checksrc
#   make bench            benchmarks in bench/
#
# BUILD=debug|release|asan|clang|fuzz selects flags (clang: the debug tree
# built with clang, to keep it -Werror clean under both compilers). Release binaries go to bin/,
# the others to build/$(BUILD)/bin/ so that builds never overwrite each other.

.SECONDEXPANSION:
.SECONDARY:
BUILD ?= release
O := build/$(BUILD)
ifeq ($(BUILD),release)
BINDIR := bin
else
BINDIR := $(O)/bin
endif

ifneq ($(filter fuzz clang,$(BUILD)),)
CC := clang
endif
CC ?= cc

PKGS := jansson yaml-0.1 libcurl openssl libmicrohttpd gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter -Wvla -Wformat=2
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -I. -Ibuild/gen $(WARN) $(PKG_CFLAGS) \
                 -MMD -MP -pthread
LDLIBS := $(PKG_LIBS) -pthread

ifeq ($(BUILD),release)
CFLAGS_BUILD := -O2 -g
else ifeq ($(BUILD),debug)
CFLAGS_BUILD := -O0 -g3
else ifeq ($(BUILD),clang)
CFLAGS_BUILD := -O1 -g
else ifeq ($(BUILD),asan)
CFLAGS_BUILD := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(BUILD),fuzz)
CFLAGS_BUILD := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
                -fno-omit-frame-pointer -DMZ_FUZZING
LDFLAGS += -fsanitize=address,undefined
else
$(error BUILD must be debug, release, asan, clang or fuzz)
endif
CFLAGS ?=
ALL_CFLAGS := $(CFLAGS_COMMON) $(CFLAGS_BUILD) $(CFLAGS)

# objs: source list -> object list in this build's tree
objs = $(patsubst %.c,$(O)/%.o,$(1))

BINS :=
TOOL_BINS :=
MODULE_SRCS :=

# Order matters: a module's link line names the modules below it.
include lib/module.mk
-include injector/module.mk
-include webhook/module.mk
-include cli/module.mk
-include operator/module.mk
-include agent/module.mk
-include e2e/module.mk
-include bench/module.mk
-include tests/tools/module.mk
include tests/module.mk

.DEFAULT_GOAL := all
.PHONY: all test unit unit-build fuzz fuzz-replay lint deps demo bench clean \
        e2e check

all: $(BINS) $(TOOL_BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BINS) $(TOOL_BINS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

deps:
	@scripts/deps.sh

lint:
	@scripts/lint.sh

# The full suite, as CI runs it (README: `make test`).
# Stages: gcc release build + unit tests; the unit tests and every fuzz
# corpus under ASan+UBSan with leak detection; the whole tree (programs,
# tools, unit tests) built with clang -Werror, and the libFuzzer targets;
# lint; the end-to-end scenarios against the ASan binaries.
test: deps
	$(MAKE) BUILD=release all unit
	$(MAKE) BUILD=asan all unit fuzz-replay
	$(MAKE) BUILD=clang all unit-build
	$(MAKE) BUILD=fuzz fuzz
	$(MAKE) lint
	$(MAKE) BUILD=asan e2e
	@echo "make test: all stages passed"

demo: deps
	$(MAKE) BUILD=release all
	@e2e/demo.sh

bench: deps
	$(MAKE) BUILD=release all bench-all

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
