# cli/: mizzenctl, the user's command-line tool (kube-inject, version).
# cli/mizzenctl.c holds main() only; everything else is CLI_SRCS, linked into
# the cli unit tests with the injector and lib.
# (Guard while injector/ and lib/yamljson are being written: without
# inj_pod_inject and yj_load_all the cli objects would break every link that
# takes MODULE_OBJS.)
ifneq ($(shell grep -ls '^inj_pod_inject' injector/*.c 2>/dev/null),)
ifneq ($(shell grep -ls '^yj_load_all' lib/yamljson.c 2>/dev/null),)
CLI_SRCS := $(filter-out cli/mizzenctl.c,$(wildcard cli/*.c))
MODULE_SRCS += $(CLI_SRCS)
BINS += $(BINDIR)/mizzenctl

$(BINDIR)/mizzenctl: $(call objs,cli/mizzenctl.c $(CLI_SRCS) $(INJ_SRCS) \
    $(LIB_SRCS))
endif
endif
