/* ag_run.h: the two long-running modes of mizzen-agent.
 *
 * ag_run_proxy is PID 1 of the istio-proxy container: it builds the
 * bootstrap, runs the status server, watches the certificates and
 * supervises Envoy from one poll loop (signalfd, inotify, an eventfd the
 * status server pokes) until SIGTERM or /quitquitquit, then returns the
 * exit code (Envoy's). ag_run_wait is the postStart hook `pilot-agent
 * wait`: poll the readiness URL until it answers 200.
 *
 * ag_run_block_signals must run first in main(), before any thread
 * exists, so that every thread inherits the blocked mask and signals are
 * only ever read from the signalfd. */
#ifndef MZ_AG_RUN_H
#define MZ_AG_RUN_H

#include "agent/ag_opts.h"

/* ag_run_block_signals: block SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGQUIT;
 * ignore SIGPIPE. 0 or RC_INTERNAL. */
int ag_run_block_signals(void);

/* ag_run_proxy returns the process exit code: Envoy's exit status, 1 when
 * the agent could not start (the reason is logged). */
int ag_run_proxy(const struct ag_opts *o, char **envp);

/* ag_run_wait returns 0 when ready within the timeout, else 1. */
int ag_run_wait(const struct ag_opts *o);

#endif
