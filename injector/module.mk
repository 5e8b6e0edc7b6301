# injector/: the pure sidecar-injection logic (no I/O, clock or env).
#
# The built-in defaults are the shipped ConfigMaps themselves: each manifest
# is embedded as a C string by scripts/embed.sh into build/gen/injector/ (on
# the include path as -Ibuild/gen) and parsed by injector/config.c. The
# generated sources are shared by every BUILD and written atomically, so
# builds of different BUILDs may run at the same time.
INJ_GEN := build/gen/injector/inj_default_injector.c \
           build/gen/injector/inj_default_mesh.c
INJ_SRCS := $(wildcard injector/*.c) $(INJ_GEN)
MODULE_SRCS += $(INJ_SRCS)

build/gen/injector/inj_default_injector.c: \
    manifests/istio-sidecar-injector.yaml scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh inj_default_injector_yaml $< > $@.tmp.$$$$ && \
	  mv -f $@.tmp.$$$$ $@

build/gen/injector/inj_default_mesh.c: \
    manifests/istio-mesh.yaml scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh inj_default_mesh_yaml $< > $@.tmp.$$$$ && \
	  mv -f $@.tmp.$$$$ $@
