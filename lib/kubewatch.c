/* kubewatch.c: the pure half of watches: JSON-lines splitting and event
 * parsing (see kubewatch.h). The curl loop lives in kwloop.c. */
#include "lib/kubewatch.h"
#include "lib/errmsg.h"
#include "lib/jsel.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

/* A partial-line buffer that grew past this is freed after use, so one big
 * event does not pin megabytes for the life of the watch. */
#define PEND_KEEP ((size_t)1 << 20)

void
kube_watch_lines_init(struct kube_watch_lines *l, size_t max_line)
{
    l->max_line = max_line ? max_line : KUBE_WATCH_MAX_LINE;
    buf_init(&l->pend, l->max_line + 1);
}

void
kube_watch_lines_reset(struct kube_watch_lines *l)
{
    if (l->pend.cap > PEND_KEEP)
        buf_cleanup(&l->pend);
    else
        buf_reset(&l->pend);
}

void
kube_watch_lines_cleanup(struct kube_watch_lines *l)
{
    buf_cleanup(&l->pend);
}

static int
blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static int
too_long(const struct kube_watch_lines *l, size_t n)
{
    return errmsg_set(RC_LIMIT,
                      "watch event line of %zu+ bytes is over the limit "
                      "of %zu",
                      n, l->max_line);
}

int
kube_watch_lines_feed(struct kube_watch_lines *l, const char *p, size_t n,
                      kube_watch_line_fn fn, void *ud)
{
    const char *end = p + n;
    int rc;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line;
        size_t len;

        if (nl == NULL) {
            len = (size_t)(end - p);
            if (l->pend.len + len > l->max_line)
                return too_long(l, l->pend.len + len);
            return buf_add(&l->pend, p, len);
        }
        len = (size_t)(nl - p);
        if (l->pend.len > 0) {
            if (l->pend.len + len > l->max_line)
                return too_long(l, l->pend.len + len);
            if ((rc = buf_add(&l->pend, p, len)) != 0)
                return rc;
            line = l->pend.ptr;
            len = l->pend.len;
        } else {
            if (len > l->max_line)
                return too_long(l, len);
            line = p;
        }
        p = nl + 1;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        rc = blank(line, len) ? 0 : fn(ud, line, len);
        if (l->pend.len > 0)
            kube_watch_lines_reset(l);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static const char *const type_names[] = {NULL,      "ADDED",    "MODIFIED",
                                         "DELETED", "BOOKMARK", "ERROR"};

const char *
kube_watch_type_str(int type)
{
    if (type >= KUBE_WATCH_ADDED && type <= KUBE_WATCH_ERROR)
        return type_names[type];
    return "?";
}

int
kube_watch_select_new(struct jsel **out, const char *const *paths)
{
    struct jsel *s = NULL;
    struct buf b;
    int rc;

    *out = NULL;
    buf_init(&b, 4096);
    if ((rc = jsel_new(&s)) != 0)
        return rc;
    if ((rc = jsel_add(s, "type")) != 0 ||
        (rc = jsel_add(s, "object.metadata.resourceVersion")) != 0)
        goto fail;
    for (size_t i = 0; paths && paths[i]; i++) {
        buf_reset(&b);
        if ((rc = buf_addf(&b, "object.%s", paths[i])) != 0 ||
            (rc = jsel_add(s, b.ptr)) != 0)
            goto fail;
    }
    buf_cleanup(&b);
    *out = s;
    return 0;
fail:
    buf_cleanup(&b);
    jsel_free(s);
    return rc;
}

static int
parse_whole(json_t **doc, const char *line, size_t n, int max_depth)
{
    struct jutil_limits lim = {n ? n : 1, max_depth};

    return jutil_parse(doc, line, n, &lim);
}

static int
type_of(const char *t)
{
    for (int i = KUBE_WATCH_ADDED; i <= KUBE_WATCH_ERROR; i++)
        if (t && strcmp(t, type_names[i]) == 0)
            return i;
    return 0;
}

int
kube_watch_event_parse(struct kube_watch_event *ev, const char *line, size_t n,
                       const struct jsel *sel, int max_depth)
{
    json_t *doc = NULL; /* owned */
    json_t *obj;        /* borrowed */
    int rc, type;

    memset(ev, 0, sizeof(*ev));
    if (max_depth <= 0)
        max_depth = JUTIL_DEFAULT_MAX_DEPTH;
    rc = sel ? jsel_parse(&doc, line, n, sel, max_depth)
             : parse_whole(&doc, line, n, max_depth);
    if (rc != 0)
        return errmsg_prefix(rc, "watch event");
    if (!json_is_object(doc)) {
        json_decref(doc);
        return errmsg_set(RC_PARSE, "watch event is not a JSON object");
    }
    type = type_of(json_string_value(json_object_get(doc, "type")));
    if (type == 0) {
        json_decref(doc);
        return errmsg_set(RC_PARSE, "watch event has no known type");
    }
    if (type == KUBE_WATCH_ERROR && sel != NULL) {
        json_decref(doc);
        doc = NULL;
        if ((rc = parse_whole(&doc, line, n, max_depth)) != 0)
            return errmsg_prefix(rc, "watch event");
    }
    obj = json_object_get(doc, "object");
    if (!json_is_object(obj)) {
        json_decref(doc);
        return errmsg_set(RC_PARSE, "watch %s event without an object",
                          type_names[type]);
    }
    ev->type = type;
    ev->object = json_incref(obj);
    json_decref(doc);
    ev->rv = jutil_path_str(ev->object, "metadata.resourceVersion");
    if (type == KUBE_WATCH_ERROR) {
        json_t *code = json_object_get(ev->object, "code"); /* borrowed */
        if (json_is_integer(code) && json_integer_value(code) > 0 &&
            json_integer_value(code) < 1000)
            ev->code = (int)json_integer_value(code);
        ev->reason = jutil_str(ev->object, "reason");
        ev->message = jutil_str(ev->object, "message");
        ev->gone = ev->code == 410 ||
                   (ev->reason && (strcmp(ev->reason, "Expired") == 0 ||
                                   strcmp(ev->reason, "Gone") == 0));
    }
    return 0;
}

void
kube_watch_event_cleanup(struct kube_watch_event *ev)
{
    json_decref(ev->object);
    memset(ev, 0, sizeof(*ev));
}
