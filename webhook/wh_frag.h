/* wh_frag.h: pre-serialized fragments of a configuration's template.
 *
 * An injection result shares the immutable JSON nodes of the injector's
 * template cache by reference (inj_config_shared): the istio-init
 * container, the fixed volumes, most of the proxy's env entries, probes,
 * mounts... Their compact JSON text is the same for every admission, so it
 * is written once, when a configuration is loaded, and the patch writer
 * copies it instead of walking the nodes again (about half of a typical
 * patch's text). The table hangs on the configuration (inj_config_attach)
 * and is freed with it; it is immutable once attached, so any thread
 * holding a reference to the configuration may read it. */
#ifndef MZ_WH_FRAG_H
#define MZ_WH_FRAG_H

#include <jansson.h>
#include <stddef.h>

struct inj_config;
struct wh_frags;

/* wh_frags_attach builds cfg's table and attaches it. Call before cfg is
 * shared (right after loading). 0, or RC_NOMEM / RC_LIMIT (nothing is
 * attached: the writer then walks every node, with the same output). */
int wh_frags_attach(struct inj_config *cfg);

/* wh_frags_of: cfg's table, or NULL. */
const struct wh_frags *wh_frags_of(const struct inj_config *cfg);

/* wh_frags_find: the compact JSON text of v (not NUL-terminated, *len
 * bytes) when v is one of the table's nodes, else NULL. f may be NULL. */
const char *wh_frags_find(const struct wh_frags *f, const json_t *v,
                          size_t *len);

/* wh_frags_count: nodes in the table (tests). */
size_t wh_frags_count(const struct wh_frags *f);

#endif
