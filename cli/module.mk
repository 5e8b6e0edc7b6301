# cli/: mizzenctl, the user's command-line tool (kube-inject, version).
# cli/mizzenctl.c holds main() only; everything else is CLI_SRCS, linked into
# the cli unit tests with the injector and lib.
CLI_SRCS := $(filter-out cli/mizzenctl.c,$(wildcard cli/*.c))
MODULE_SRCS += $(CLI_SRCS)
BINS += $(BINDIR)/mizzenctl

$(BINDIR)/mizzenctl: $(call objs,cli/mizzenctl.c $(CLI_SRCS) $(INJ_SRCS) \
    $(LIB_SRCS))
