/* wh_reload.h: loading and reloading the webhook's files.
 *
 * Two things come from files: the injector configuration (injector config
 * file or directory + mesh config) and the serving certificate (cert +
 * key). Each is read whole, hashed, and applied only when its content
 * changed; a new content that does not load is refused with a log line and
 * a metric, and the last good one stays in force (that content is not
 * retried until it changes again).
 *
 * Change detection: inotify on the directories holding the files (so
 * Kubernetes' atomic "..data" symlink swap of mounted volumes is seen as
 * IN_MOVED_TO/IN_CREATE in the directory), debounced by 100 ms, plus a
 * periodic check every reload_ms as a fallback for missed events and
 * recreated directories. */
#ifndef MZ_WH_RELOAD_H
#define MZ_WH_RELOAD_H

#include <stddef.h>

struct wh_opts;
struct wh_server;
struct inj_config;
struct wh_reloader;

/* WH_MAX_FILE caps every file read (config templates are the largest). */
#define WH_MAX_FILE ((size_t)16 << 20)

/* wh_config_read builds a configuration from the files named in o (NULL
 * paths: built-in defaults). *hash_out (may be NULL) gets a hash of
 * everything read, so an unchanged content can be skipped. 0, or RC_IO /
 * RC_LIMIT for a file that cannot be read, RC_PARSE / RC_INVAL from the
 * injector, RC_NOMEM; errmsg names the file. */
int wh_config_read(struct inj_config **out, const struct wh_opts *o,
                   unsigned long long *hash_out);

/* wh_file_read reads a whole file (at most max bytes) into a NUL-terminated
 * buffer the caller frees with mem_free. RC_IO, RC_LIMIT, RC_NOMEM. */
int wh_file_read(char **out, size_t *len_out, const char *path, size_t max);

/* wh_reloader_new loads both things once (failures are logged; the server
 * then is not ready until a good file appears) and sets up the watches. */
int wh_reloader_new(struct wh_reloader **out, const struct wh_opts *o,
                    struct wh_server *srv);

/* wh_reloader_run is the control loop: watches, periodic checks and the
 * server's tick, until stop_fd becomes readable. Returns 0. */
int wh_reloader_run(struct wh_reloader *r, int stop_fd);

void wh_reloader_free(struct wh_reloader *r);

#endif
