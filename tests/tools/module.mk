# tests/tools/: small test-only programs that expose library code to e2e
# scripts. They are built with `all` into $(BINDIR) (TOOL_BINS, linked by
# the Makefile's program recipe) so e2e tests find them through MZ_BINDIR.
#   jpatch_tool diff|apply A B, diff-lines|apply-lines FILE (e2e/t_jpatch_python.sh)
TOOL_BINS += $(BINDIR)/jpatch_tool

$(BINDIR)/jpatch_tool: $$(call objs,tests/tools/jpatch_tool.c $$(LIB_SRCS))

#   kubeclient_tool config|get|list|create|bulk|patch|delete|incr|request
#                   (e2e/t_kubeclient.sh)
TOOL_BINS += $(BINDIR)/kubeclient_tool

$(BINDIR)/kubeclient_tool: $$(call objs,tests/tools/kubeclient_tool.c $$(LIB_SRCS))

#   informer_tool, lease_tool (e2e/t_kubewatch.sh, e2e/t_lease.sh)
TOOL_BINS += $(BINDIR)/informer_tool $(BINDIR)/lease_tool

$(BINDIR)/informer_tool: $$(call objs,tests/tools/informer_tool.c $$(LIB_SRCS))
$(BINDIR)/lease_tool: $$(call objs,tests/tools/lease_tool.c $$(LIB_SRCS))

#   pki_tool root|issue|verify|info|keymatch   (e2e/t_pki_openssl.sh)
TOOL_BINS += $(BINDIR)/pki_tool

$(BINDIR)/pki_tool: $$(call objs,tests/tools/pki_tool.c $$(LIB_SRCS))
