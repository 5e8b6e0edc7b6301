/* test_kwloop.c: the watch loop against a scripted HTTP server on
 * 127.0.0.1 (a thread in this process): resume from the last
 * resourceVersion (bookmarks included) after a clean end, backoff after a
 * 500, stall detection, in-stream and HTTP 410, the line cap, and removal
 * from another thread. */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { END, HOLD, PLAIN };

struct step {
    int mode;         /* END: chunked + terminator; HOLD: chunked, stay open;
                         PLAIN: status + Content-Length body */
    int status;       /* PLAIN only */
    const char *body; /* chunks separated by '|' */
};

struct srv {
    int fd, port;
    const struct step *steps;
    int nsteps, served;
    struct buf paths; /* request lines, '\n' separated */
    pthread_mutex_t mu;
    pthread_t th;
    volatile int quit;
};

static void
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void
serve_one(struct srv *s, int c, const struct step *st)
{
    char hdr[256];

    if (st->mode == PLAIN) {
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 st->status, strlen(st->body));
        send_all(c, hdr, strlen(hdr));
        send_all(c, st->body, strlen(st->body));
        return;
    }
    snprintf(hdr, sizeof(hdr),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n");
    send_all(c, hdr, strlen(hdr));
    for (const char *p = st->body; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
        send_all(c, hdr, strlen(hdr));
        send_all(c, p, n);
        send_all(c, "\r\n", 2);
        p += n + (bar ? 1 : 0);
    }
    if (st->mode == END) {
        send_all(c, "0\r\n\r\n", 5);
        return;
    }
    /* HOLD: silent until the client goes away (or the test ends) */
    while (!s->quit) {
        struct pollfd pf = {c, POLLIN, 0};
        char b[256];
        if (poll(&pf, 1, 50) > 0 && recv(c, b, sizeof(b), 0) <= 0)
            return;
    }
}

static void *
srv_main(void *arg)
{
    struct srv *s = arg;

    while (!s->quit) {
        struct pollfd pf = {s->fd, POLLIN, 0};
        char req[4096];
        size_t n = 0;
        int c;

        if (poll(&pf, 1, 50) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        while (n < sizeof(req) - 1) {
            ssize_t k = recv(c, req + n, sizeof(req) - 1 - n, 0);
            if (k <= 0)
                break;
            n += (size_t)k;
            req[n] = 0;
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[n] = 0;
        char *eol = strstr(req, "\r\n");
        if (eol)
            *eol = 0;
        pthread_mutex_lock(&s->mu);
        buf_addf(&s->paths, "%s\n", req);
        int i = s->served++;
        pthread_mutex_unlock(&s->mu);
        if (i < s->nsteps)
            serve_one(s, c, &s->steps[i]);
        else
            serve_one(s, c, &(struct step){HOLD, 0, ""});
        close(c);
    }
    return NULL;
}

static int
srv_start(struct srv *s, const struct step *steps, int n)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);

    memset(s, 0, sizeof(*s));
    s->steps = steps;
    s->nsteps = n;
    buf_init(&s->paths, 0);
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->fd, 16) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, srv_main, s);
}

static void
srv_stop(struct srv *s)
{
    s->quit = 1;
    pthread_join(s->th, NULL);
    close(s->fd);
    buf_cleanup(&s->paths);
    pthread_mutex_destroy(&s->mu);
}

/* ---- the watch's owner ---- */

struct owner {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct buf events;
    int stopped, stop_rc;
};

static int
on_event(void *ud, struct kube_watch_event *ev)
{
    struct owner *o = ud;

    pthread_mutex_lock(&o->mu);
    buf_addf(&o->events, "%s %s;", kube_watch_type_str(ev->type),
             ev->rv ? ev->rv : "-");
    pthread_mutex_unlock(&o->mu);
    return 0;
}

static void
on_stop(void *ud, int rc)
{
    struct owner *o = ud;

    pthread_mutex_lock(&o->mu);
    o->stopped++;
    o->stop_rc = rc;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
}

static int
wait_stop(struct owner *o, int secs)
{
    struct timespec ts;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    pthread_mutex_lock(&o->mu);
    while (!o->stopped && pthread_cond_timedwait(&o->cond, &o->mu, &ts) == 0)
        ;
    n = o->stopped;
    pthread_mutex_unlock(&o->mu);
    return n;
}

struct rig {
    struct srv s;
    struct owner o;
    struct kube_client *c;
    struct kube_watch_loop *l;
    uint64_t id;
};

static int
rig_start(struct rig *r, const struct step *steps, int n, size_t max_line)
{
    struct kube_config cfg = {0};
    struct kube_watch_opts wo = {0};
    struct kube_watch_spec sp = {0};
    char url[64];

    memset(r, 0, sizeof(*r));
    log_init(&(struct log_opts){.level = LOG_OFF}); /* expected warnings */
    pthread_mutex_init(&r->o.mu, NULL);
    pthread_cond_init(&r->o.cond, NULL);
    buf_init(&r->o.events, 0);
    if (srv_start(&r->s, steps, n) != 0)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", r->s.port);
    cfg.server = url;
    wo.idle_timeout_ms = 400;
    wo.backoff_base_ms = 40;
    wo.backoff_max_ms = 100;
    wo.min_timeout_s = wo.max_timeout_s = 300;
    wo.max_line = max_line;
    sp.res = &KUBE_CONFIGMAPS;
    sp.ns = "w";
    sp.label_selector = "app=x y";
    sp.rv = "1";
    sp.on_event = on_event;
    sp.on_stop = on_stop;
    sp.ud = &r->o;
    if (kube_client_new(&r->c, &cfg, NULL) != 0 ||
        kube_watch_loop_new(&r->l, r->c, &wo) != 0 ||
        kube_watch_add(r->l, &sp, &r->id) != 0 ||
        kube_watch_loop_start(r->l) != 0)
        return -1;
    return 0;
}

static void
rig_stop(struct rig *r)
{
    kube_watch_loop_stop(r->l);
    kube_watch_loop_free(r->l);
    kube_client_free(r->c);
    srv_stop(&r->s);
    buf_cleanup(&r->o.events);
    pthread_cond_destroy(&r->o.cond);
    pthread_mutex_destroy(&r->o.mu);
    log_init(NULL);
}

#define EV(t, rv)                                                              \
    "{\"type\":\"" t                                                           \
    "\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"" rv    \
    "\"}}}\n"
#define GONE_EV                                                                \
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"        \
    "\"reason\":\"Expired\",\"message\":\"too old resource version\"}}\n"

TEST(kwloop_resume_backoff_stall_and_gone)
{
    /* event split across chunks; bookmark moves the RV; clean end */
    static const struct step steps[] = {
        {END, 0,
         "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":|"
         "\"a\",\"resourceVersion\":\"5\"}}}\n\n|" EV("BOOKMARK", "7")},
        {PLAIN, 500, "{\"kind\":\"Status\",\"code\":500}"},
        {HOLD, 0, EV("MODIFIED", "8")}, /* then silence: a stall */
        {END, 0, GONE_EV},
    };
    struct rig r;
    struct kube_watch_stats st;

    REQUIRE(rig_start(&r, steps, 4, 0) == 0);
    CHECK_INT(wait_stop(&r.o, 15), 1);
    CHECK_INT(r.o.stop_rc, RC_GONE);
    CHECK_STR(r.o.events.ptr, "ADDED 5;BOOKMARK 7;MODIFIED 8;");
    kube_watch_loop_stats(r.l, &st);
    CHECK_INT(st.starts, 4);
    CHECK_INT(st.stalls, 1);
    CHECK_INT(st.gone, 1);
    CHECK(st.failures >= 1);
    CHECK_INT(st.events, 2);
    CHECK_INT(st.bookmarks, 1);
    pthread_mutex_lock(&r.s.mu);
    const char *p = r.s.paths.ptr;
    CHECK_CONTAINS(p, "GET /api/v1/namespaces/w/configmaps?watch=1&"
                      "resourceVersion=1&allowWatchBookmarks=true&"
                      "timeoutSeconds=300&labelSelector=app%3Dx%20y");
    /* after the clean end and after the 500: from the bookmark's RV */
    const char *second = p ? strchr(p, '\n') : NULL;
    CHECK(second && strstr(second, "resourceVersion=7&"));
    const char *third = second ? strchr(second + 1, '\n') : NULL;
    CHECK(third && strstr(third, "resourceVersion=7&"));
    /* after the stall: from the MODIFIED's RV */
    const char *fourth = third ? strchr(third + 1, '\n') : NULL;
    CHECK(fourth && strstr(fourth, "resourceVersion=8&"));
    pthread_mutex_unlock(&r.s.mu);
    rig_stop(&r);
}

TEST(kwloop_http_410_and_line_cap)
{
    static const struct step gone[] = {
        {PLAIN, 410,
         "{\"kind\":\"Status\",\"code\":410,\"reason\":"
         "\"Expired\"}"}};
    static const struct step big[] = {
        {HOLD, 0,
         EV("ADDED",
            "2") "{\"type\":\"ADDED\",\"object\":{\"x\":"
                 "\"01234567890123456789012345678901234567890123456789\"}}\n"}};
    struct rig r;

    REQUIRE(rig_start(&r, gone, 1, 0) == 0);
    CHECK_INT(wait_stop(&r.o, 10), 1);
    CHECK_INT(r.o.stop_rc, RC_GONE);
    CHECK(r.o.events.ptr == NULL);
    rig_stop(&r);

    REQUIRE(rig_start(&r, big, 1, 80) == 0);
    CHECK_INT(wait_stop(&r.o, 10), 1);
    CHECK_INT(r.o.stop_rc, RC_LIMIT);
    CHECK_STR(r.o.events.ptr, "ADDED 2;");
    rig_stop(&r);
}

TEST(kwloop_remove_from_another_thread)
{
    static const struct step hold[] = {{HOLD, 0, EV("ADDED", "3")}};
    struct rig r;
    int got = 0;

    REQUIRE(rig_start(&r, hold, 1, 0) == 0);
    for (int i = 0; i < 100 && !got; i++) {
        pthread_mutex_lock(&r.o.mu);
        got = r.o.events.ptr != NULL;
        pthread_mutex_unlock(&r.o.mu);
        usleep(20000);
    }
    CHECK(got);
    kube_watch_remove(r.l, r.id);
    struct kube_watch_stats st;
    kube_watch_loop_stats(r.l, &st);
    usleep(100000);
    kube_watch_loop_stats(r.l, &st);
    CHECK_INT(st.active, 0);
    CHECK_INT(r.o.stopped, 0);    /* removal does not call on_stop */
    kube_watch_remove(r.l, r.id); /* unknown now: ignored */
    rig_stop(&r);
}
