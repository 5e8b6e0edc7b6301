#!/usr/bin/env bash
# t_agent_lifecycle.sh: mizzen-agent restarts a crashed Envoy (kill -9 of
# the stand-in) with exponential backoff, drains on SIGTERM
# (POST /drain_listeners?inboundonly&graceful), waits the drain duration,
# then stops Envoy and exits with Envoy's exit status; /quitquitquit on the
# status port stops everything promptly (POST from localhost only).
set -u
. "$MZ_ROOT/e2e/agent/lib.sh"

agent_ports
make_cert_set "$MZ_WORK/certset1" app || fail "openssl"
mkdir -p "$MZ_WORK/certs" "$MZ_WORK/pod"
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset1"
export POD_NAME=life-1 POD_NAMESPACE=default INSTANCE_IP=127.0.0.1 FAKE_ENVOY_READY_DELAY=0
export FAKE_ENVOY_TERM_EXIT=7

start_agent --backoff-initial 400ms --backoff-max 10s --backoff-reset 60s \
    --drain-duration 2s --stop-grace 3s
wait_until 10 ready_via_envoy || fail "not ready"
ok "Envoy running and ready"

# 1. crashes: kill -9 the current Envoy three times, measure kill -> restart
# (the new process's start time from /proc, so the stand-in's own start-up
# time does not count)
hz=$(getconf CLK_TCK)
gaps=()
for n in 1 2 3; do
    pid=$(ev field start pid)
    starts=$(ev count start)
    u0=$(awk '{print $1}' /proc/uptime)
    kill -KILL "$pid"
    wait_until 15 ev_eq $((starts + 1)) count start || fail "no restart after crash $n"
    npid=$(ev field start pid)
    st=$(awk '{print $22}' "/proc/$npid/stat")
    gap=$(awk -v a="$u0" -v b="$st" -v hz="$hz" 'BEGIN{printf "%d", (b / hz - a) * 1000}')
    gaps+=("$gap")
    echo "crash $n: restarted after ${gap} ms (epoch $(ev field start epoch))"
    [ "$(ev field start epoch)" = 0 ] || fail "a restart after a crash must be epoch 0"
    wait_until 10 ready_via_envoy || fail "not ready after restart $n"
done
# delays 400, 800, 1600 ms (+ process start): each at least ~1.5x the last
awk -v a="${gaps[0]}" -v b="${gaps[1]}" -v c="${gaps[2]}" \
    'BEGIN{exit !(a >= 350 && b >= a * 1.4 && c >= b * 1.4 && c >= 1550)}' ||
    fail "backoff gaps ${gaps[*]} ms do not grow (want ~400, 800, 1600)"
ok "crash restarts with exponential backoff: ${gaps[*]} ms"
m=$(curl -s "http://127.0.0.1:$STATUS_PORT/stats/prometheus")
echo "$m" | grep -q '^mizzen_agent_envoy_crashes_total 3$' || fail "crash counter"
grep -q 'envoy exited unexpectedly.*status=137' "$MZ_WORK/agent.log" || fail "crash status 137 not logged"
ok "crashes counted (3) and their status (137) logged"

# 2. SIGTERM: drain, wait 2 s, SIGTERM to Envoy, exit with its status (7)
pid=$(ev field start pid)
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
wait_until 3 ev_eq 1 count drain_listeners || fail "no drain_listeners call"
[ "$(ev field drain_listeners query)" = "inboundonly&graceful" ] ||
    fail "drain query: $(ev field drain_listeners query)"
ok "SIGTERM -> POST /drain_listeners?inboundonly&graceful"
code=$(http_code "http://127.0.0.1:$STATUS_PORT/healthz/ready")
[ "$code" = 503 ] || fail "/healthz/ready while draining: $code, want 503"
ok "not ready while draining"
alive "$pid" || fail "Envoy stopped before the drain duration"
wait_until 8 exited "$AGENT_PID" || fail "agent still running 8 s after SIGTERM"
el=$((($(date +%s%N) - t0) / 1000000))
wait "$AGENT_PID"
rc=$?
AGENT_PID=
[ "$rc" = 7 ] || fail "agent exit status $rc, want Envoy's 7"
[ "$el" -ge 1900 ] && [ "$el" -le 4500 ] || fail "exit ${el} ms after SIGTERM, want 2 s drain + < 2.5 s"
[ "$(ev count sigterm pid=$pid)" = 1 ] || fail "Envoy did not get SIGTERM"
ok "exit ${el} ms after SIGTERM (drain 2 s) with Envoy's status 7"

# 3. /quitquitquit: only POST, then a prompt exit without the drain wait
agent_ports
unset FAKE_ENVOY_TERM_EXIT
start_agent --drain-duration 20s
wait_until 10 ready_via_envoy || fail "second agent not ready"
code=$(http_code "http://127.0.0.1:$STATUS_PORT/quitquitquit")
[ "$code" = 405 ] || fail "GET /quitquitquit: $code, want 405"
alive "$AGENT_PID" || fail "GET /quitquitquit stopped the agent"
t0=$(date +%s%N)
code=$(http_code "http://127.0.0.1:$STATUS_PORT/quitquitquit" -X POST)
[ "$code" = 200 ] || fail "POST /quitquitquit: $code"
wait_until 5 exited "$AGENT_PID" || fail "agent still running after /quitquitquit"
el=$((($(date +%s%N) - t0) / 1000000))
wait "$AGENT_PID"
rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "exit status after /quitquitquit: $rc"
ok "POST /quitquitquit: exit in ${el} ms (no 20 s drain), status 0; GET is 405"

# 4. POST /drain drains now; a later SIGTERM does not wait again
agent_ports
drains=$(ev count drain_listeners)
start_agent --drain-duration 20s
wait_until 10 ready_via_envoy || fail "third agent not ready"
[ "$(http_code "http://127.0.0.1:$STATUS_PORT/drain" -X POST)" = 200 ] || fail "POST /drain"
wait_until 3 ev_eq $((drains + 1)) count drain_listeners || fail "POST /drain did not drain"
alive "$AGENT_PID" || fail "POST /drain stopped the agent"
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
wait_until 6 exited "$AGENT_PID" || fail "agent waited the drain again after /drain"
el=$((($(date +%s%N) - t0) / 1000000))
wait "$AGENT_PID"
AGENT_PID=
[ "$(ev count drain_listeners)" = $((drains + 1)) ] || fail "drained twice"
ok "POST /drain drains at once; the SIGTERM after it stops in ${el} ms"

# 5. Envoy cannot even start: restarts with backoff, and the status (127)
# is what the agent exits with
agent_ports
start_agent --envoy-binary "$MZ_WORK/no-such-envoy" --backoff-initial 200ms
wait_until 5 grep -q 'envoy start failed' "$MZ_WORK/agent.log" || fail "no start failure logged"
sleep 0.8
n=$(grep -c 'envoy start failed' "$MZ_WORK/agent.log")
[ "$n" -ge 2 ] || fail "a failed start is not retried ($n attempts)"
kill -TERM "$AGENT_PID"
wait_until 5 exited "$AGENT_PID" || fail "agent did not stop during backoff"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
[ "$rc" = 127 ] || fail "exit status $rc after failed starts, want 127"
ok "a missing Envoy binary: retried with backoff ($n attempts), SIGTERM exits 127"
echo "PASS"
