# lib/: shared code (errors, logging, buffers, JSON/YAML, JSON Patch, PKI,
# HTTP, Kubernetes client). Includes nothing from other project folders.
LIB_SRCS := $(wildcard lib/*.c)
MODULE_SRCS += $(LIB_SRCS)
