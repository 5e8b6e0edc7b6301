/* ag_certwatch.h: watches the certificate directory (/etc/certs) with
 * inotify and reports a change of the certificates' *content*.
 *
 * The kubelet updates a Secret volume atomically: it writes a new
 * "..<timestamp>" directory, points a "..data_tmp" symlink at it, renames
 * that over "..data" (IN_MOVED_TO in the watched directory) and deletes the
 * old directory; the visible names are symlinks through ..data. Any event
 * in the directory (create, delete, move, close after write, attribute
 * change) arms a debounce timer; when it fires, the three files are read
 * and hashed, and only a hash different from the last one counts as a
 * change. So a burst of events is one change, and a no-op update (same
 * bytes, a touch) is none.
 *
 * Single-threaded: driven by the agent's poll loop (fd + deadline). */
#ifndef MZ_AG_CERTWATCH_H
#define MZ_AG_CERTWATCH_H

#include <stdint.h>

#define AG_CERT_FILE_MAX (1 << 20) /* bytes read per certificate file */

struct ag_certwatch {
    char *dir;
    int fd; /* inotify, -1 when unavailable */
    int wd; /* watch descriptor, -1 until the dir exists */
    long debounce_ms;
    uint64_t due_ms;   /* 0: nothing pending */
    uint64_t retry_ms; /* 0: watching; else when to retry adding the watch */
    uint64_t hash;     /* content hash last reported */
    int complete;      /* all three files were present at the last hash */
};

/* ag_certwatch_init creates the inotify instance and watches dir (a dir
 * that does not exist yet is retried every second), and takes the first
 * hash. 0, RC_NOMEM or RC_IO (no inotify). ag_certwatch_cleanup closes
 * it. */
int ag_certwatch_init(struct ag_certwatch *w, const char *dir, long debounce_ms,
                      uint64_t now_ms);
void ag_certwatch_cleanup(struct ag_certwatch *w);

/* ag_certwatch_on_readable drains the inotify events; a relevant one arms
 * the debounce deadline (re-arming it on every later event). */
void ag_certwatch_on_readable(struct ag_certwatch *w, uint64_t now_ms);

/* ag_certwatch_tick: when the deadline passed, rehash; returns 1 when the
 * content changed since the last report (then w->hash/complete are the
 * new state), else 0. Also retries a missing watch. */
int ag_certwatch_tick(struct ag_certwatch *w, uint64_t now_ms);

/* ag_certwatch_deadline: the next time tick has work, 0 for none. */
uint64_t ag_certwatch_deadline(const struct ag_certwatch *w);

/* ag_cert_hash hashes cert-chain.pem, key.pem and root-cert.pem of dir
 * (content and presence; at most AG_CERT_FILE_MAX bytes each) into *out;
 * *complete is 1 when all three exist and are non-empty. Never fails. */
void ag_cert_hash(const char *dir, uint64_t *out, int *complete);

#endif
