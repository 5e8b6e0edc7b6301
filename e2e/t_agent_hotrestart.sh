#!/usr/bin/env bash
# t_agent_hotrestart.sh: a certificate change published the way the kubelet
# updates a Secret volume (..data symlink swap) makes mizzen-agent hot
# restart Envoy exactly once with --restart-epoch N+1; the parent epoch is
# shut down (by the new epoch after --parent-shutdown-time-s, and by the
# agent when the parent ignores that). Same content again, or a touch, is
# no restart; a burst of changes is one restart.
set -u
. "$MZ_ROOT/e2e/agent/lib.sh"

agent_ports
for i in 1 2 3 4; do make_cert_set "$MZ_WORK/certset$i" "sa$i" || fail "openssl"; done
mkdir -p "$MZ_WORK/certs" "$MZ_WORK/pod"
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset1"
export POD_NAME=hr-1 POD_NAMESPACE=default INSTANCE_IP=127.0.0.1 FAKE_ENVOY_READY_DELAY=0

start_agent --parent-shutdown-duration 1s --parent-shutdown-grace 4s \
    --stop-grace 2s --cert-debounce 200ms
wait_until 10 ready_via_envoy || fail "not ready"
pid0=$(ev field start pid epoch=0)
ok "epoch 0 running (pid $pid0) and ready"

server_epoch() {
    curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/server_info" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["command_line_options"]["restart_epoch"])'
}

# 1. a real certificate change: exactly one hot restart
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset2"
wait_until 5 ev_eq 1 count start epoch=1 || fail "no epoch 1 after the cert change"
pid1=$(ev field start pid epoch=1)
ev argv 1 | grep -q -- "--restart-epoch 1" || fail "epoch 1 argv: $(ev argv 1)"
ev argv 1 | grep -q -- "-c $MZ_WORK/cfg/envoy-rev1.json" || fail "epoch 1 bootstrap: $(ev argv 1)"
test -s "$MZ_WORK/cfg/envoy-rev1.json" || fail "no envoy-rev1.json"
ok "cert change -> envoy-rev1.json and --restart-epoch 1 (pid $pid1)"
wait_until 6 ev_eq 1 count parent_terminated epoch=0 || fail "parent epoch 0 was not told to exit"
wait_until 3 exited "$pid0" || fail "parent epoch 0 (pid $pid0) still running"
ok "parent epoch 0 shut down after --parent-shutdown-time-s"
[ "$(server_epoch)" = 1 ] || fail "admin is not served by epoch 1"
wait_until 5 ready_via_envoy || fail "not ready after the hot restart"
sleep 1
[ "$(ev count start)" = 2 ] || fail "$(ev count start) starts after one change, want 2"
ok "exactly one hot restart; epoch 1 serves admin and readiness"

# 2. the same bytes again, and a touch: no restart
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset2"
touch "$MZ_WORK"/certs/..data/*.pem
sleep 1.5
[ "$(ev count start)" = 2 ] || fail "a no-op update restarted Envoy"
ok "re-publishing identical certificates and touching them: no restart"

# 3. a parent that ignores the terminate request is stopped by the agent
touch "$MZ_WORK/cfg/fake-envoy-ignore-terminate"
t0=$(date +%s%N)
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset3"
wait_until 5 ev_eq 1 count start epoch=2 || fail "no epoch 2"
wait_until 5 ev_eq 1 count terminate_ignored epoch=1 || fail "parent 1 was not asked to terminate"
wait_until 10 ev_eq 1 count sigterm epoch=1 || fail "the agent did not SIGTERM parent epoch 1"
el=$((($(date +%s%N) - t0) / 1000000))
wait_until 3 exited "$pid1" || fail "parent epoch 1 (pid $pid1) still running"
[ "$el" -ge 4800 ] || fail "parent stopped after ${el} ms, before parent-shutdown + grace (5 s)"
ok "a parent ignoring the hand-over is SIGTERMed by the agent after ${el} ms (1 s + 4 s grace)"
rm -f "$MZ_WORK/cfg/fake-envoy-ignore-terminate"

# 4. a burst (two swaps inside the debounce window): one restart
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset4"
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset1"
wait_until 5 ev_eq 1 count start epoch=3 || fail "no epoch 3 after the burst"
sleep 1.5
[ "$(ev count start)" = 4 ] || fail "$(ev count start) starts, want 4 (burst = one restart)"
wait_until 5 ev_eq 1 count parent_terminated epoch=2 || fail "parent epoch 2 not shut down"
ok "a burst of two swaps is one hot restart"

m=$(curl -s "http://127.0.0.1:$STATUS_PORT/stats/prometheus")
echo "$m" | grep -q '^mizzen_agent_envoy_hot_restarts_total 3$' || fail "hot restart counter: $(echo "$m" | grep hot_restarts)"
echo "$m" | grep -q '^mizzen_agent_envoy_restart_epoch 3$' || fail "epoch gauge"
ok "metrics: 3 hot restarts, epoch 3"
echo "PASS"
