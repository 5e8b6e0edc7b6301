# agent/: the programs of the proxy image: mizzen-iptables (istio-init) and
# mizzen-agent (istio-proxy). Every agent/*.c but the mains is AGENT_SRCS,
# which the agent unit-test runner links with lib/.
AGENT_MAINS := agent/iptables.c agent/agent.c
AGENT_SRCS := $(filter-out $(AGENT_MAINS),$(wildcard agent/*.c))
MODULE_SRCS += $(AGENT_SRCS)

# mizzen-iptables links only its own files (agent/ipt*.c), so the agent's
# sources never enlarge or break it.
IPT_SRCS := $(filter agent/ipt%.c,$(AGENT_SRCS))
BINS += $(BINDIR)/mizzen-iptables
$(BINDIR)/mizzen-iptables: $(call objs,agent/iptables.c $(IPT_SRCS) $(LIB_SRCS))

# mizzen-agent links every agent source but the iptables ones.
BINS += $(BINDIR)/mizzen-agent
$(BINDIR)/mizzen-agent: $(call objs,agent/agent.c $(filter-out agent/ipt%.c,$(AGENT_SRCS)) $(LIB_SRCS))
