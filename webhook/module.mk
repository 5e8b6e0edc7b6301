# webhook/: mizzen-webhook, the HTTPS mutating admission webhook around
# injector/. webhook/webhook.c holds main() only; the rest links into the
# unit tests and the fuzz target.
# (Guard while injector/ is being written: without inj_pod_inject the
# webhook objects would break every link that takes MODULE_OBJS.)
ifneq ($(shell grep -ls '^inj_pod_inject' injector/*.c 2>/dev/null),)
WEBHOOK_SRCS := $(filter-out webhook/webhook.c,$(wildcard webhook/*.c))
MODULE_SRCS += $(WEBHOOK_SRCS)
BINS += $(BINDIR)/mizzen-webhook

$(BINDIR)/mizzen-webhook: $(call objs,webhook/webhook.c $(WEBHOOK_SRCS) \
    $(INJ_SRCS) $(LIB_SRCS))
endif
