# webhook/: mizzen-webhook, the HTTPS mutating admission webhook around
# injector/. webhook/webhook.c holds main() only; the rest links into the
# unit tests and the fuzz target.
WEBHOOK_SRCS := $(filter-out webhook/webhook.c,$(wildcard webhook/*.c))
MODULE_SRCS += $(WEBHOOK_SRCS)
BINS += $(BINDIR)/mizzen-webhook

$(BINDIR)/mizzen-webhook: $(call objs,webhook/webhook.c $(WEBHOOK_SRCS) \
    $(INJ_SRCS) $(LIB_SRCS))
