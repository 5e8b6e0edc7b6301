#operator/ : mizzen - operator(CA, workload Secrets, trust bundles, webhook
#certificate and caBundle).Every operator/*.c but the main is
# OPERATOR_SRCS, which the operator unit-test runner links with lib/.
OPERATOR_SRCS := $(filter-out operator/operator.c,$(wildcard operator/*.c))
MODULE_SRCS += $(OPERATOR_SRCS)

BINS += $(BINDIR)/mizzen-operator
$(BINDIR)/mizzen-operator: $(call objs,operator/operator.c $(OPERATOR_SRCS) $(LIB_SRCS))
