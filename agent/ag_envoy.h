/* ag_envoy.h: Envoy's processes: start, hot restart by epoch, crash
 * restart with backoff, parent shutdown, stop.
 *
 * The hot-restart model (Envoy before Istio dropped it): every start
 * writes envoy-rev<epoch>.json and runs `envoy -c that --restart-epoch N`.
 * Epoch N+1 takes the listeners over from epoch N (the parent) and, after
 * --parent-shutdown-time-s, tells it to exit. The agent does not trust
 * that: a parent still alive parent-shutdown-duration +
 * parent-shutdown-grace after its child started gets SIGTERM, then SIGKILL
 * after stop-grace. Exactly one newest process is "current"; its exit
 * status is the one the agent reports.
 *
 * A crash of the current process (any exit the agent did not ask for)
 * stops the other epochs and schedules a fresh start at epoch 0 after the
 * backoff delay (initial, doubling to max, back to initial after an uptime
 * of backoff-reset). Epoch 0 because no parent is left to hand over from.
 *
 * Single-threaded: driven by the agent's loop, which reaps children and
 * passes their status here. */
#ifndef MZ_AG_ENVOY_H
#define MZ_AG_ENVOY_H

#include "agent/ag_bootstrap.h"
#include "agent/ag_metrics.h"
#include "agent/ag_opts.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#define AG_PROCS_MAX 4

struct ag_backoff {
    long initial_ms, max_ms, reset_ms;
    long cur_ms; /* the delay the next crash gets */
};

/* ag_backoff_init / ag_backoff_next: pure. next returns the delay before
 * restarting a process that ran uptime_ms, and advances the state. */
void ag_backoff_init(struct ag_backoff *b, long initial_ms, long max_ms,
                     long reset_ms);
long ag_backoff_next(struct ag_backoff *b, long uptime_ms);

struct ag_proc {
    pid_t pid; /* 0: free */
    int epoch;
    uint64_t started_ms;
    uint64_t stop_at_ms; /* SIGTERM due (parent enforcement), 0: none */
    uint64_t kill_at_ms; /* SIGKILL due, 0: none */
    int term_sent;
};

enum ag_exit_kind {
    AG_EXIT_UNKNOWN = 0, /* not one of ours (an orphan we reaped) */
    AG_EXIT_PARENT,      /* an older epoch ended */
    AG_EXIT_CURRENT      /* the current Envoy ended */
};

struct ag_envoy {
    const struct ag_opts *o;
    const struct ag_node *node;
    const json_t *bootstrap; /* borrowed */
    const char *override_yaml;
    char **envp;
    struct ag_stats *stats;
    struct ag_proc procs[AG_PROCS_MAX];
    pid_t current;          /* 0: none running */
    int epoch;              /* epoch of the current (or last) process */
    uint64_t restart_at_ms; /* crash restart due, 0: none */
    struct ag_backoff bo;
    int have_status;
    int last_status; /* exit code form: code, or 128 + signal */
    int stopping;    /* ag_envoy_stop called: no more starts */
};

void ag_envoy_init(struct ag_envoy *e, const struct ag_opts *o,
                   const struct ag_node *node, const json_t *bootstrap,
                   const char *override_yaml, char **envp,
                   struct ag_stats *stats);

/* ag_envoy_start writes envoy-rev<epoch>.json and spawns Envoy. A failure
 * to write or spawn counts as a crash (restart with backoff). 0 or the
 * failure's RC_*. */
int ag_envoy_start(struct ag_envoy *e, int epoch, uint64_t now_ms);

/* ag_envoy_hot_restart starts epoch+1 next to the current process and
 * arms the parent's shutdown deadline; with no process running it does
 * nothing when a crash restart is pending (that start reads the new
 * files), else starts epoch 0. */
int ag_envoy_hot_restart(struct ag_envoy *e, uint64_t now_ms);

/* ag_envoy_reaped records a child's wait status. */
enum ag_exit_kind ag_envoy_reaped(struct ag_envoy *e, pid_t pid, int wstatus,
                                  uint64_t now_ms);

/* ag_envoy_tick runs what is due: parent SIGTERM/SIGKILL, crash restart. */
void ag_envoy_tick(struct ag_envoy *e, uint64_t now_ms);
uint64_t ag_envoy_deadline(const struct ag_envoy *e); /* 0: none */

/* ag_envoy_stop: no more restarts; SIGTERM to every process, SIGKILL after
 * stop-grace. With immediate, SIGKILL at once. */
void ag_envoy_stop(struct ag_envoy *e, uint64_t now_ms, int immediate);

/* ag_envoy_running: processes alive (not yet reaped). */
int ag_envoy_running(const struct ag_envoy *e);

/* ag_envoy_exit_code: the status the agent exits with (0 if Envoy never
 * ended). */
int ag_envoy_exit_code(const struct ag_envoy *e);

/* ag_envoy_drain: POST /drain_listeners?inboundonly&graceful to the admin
 * API. 0 or RC_IO/RC_TIMEOUT. */
int ag_envoy_drain(const struct ag_envoy *e);

/* ag_wstatus_code maps a wait status to a shell-style exit code. */
int ag_wstatus_code(int wstatus);

#endif
