#!/usr/bin/env bash
# t_agent_status.sh: mizzen-agent's status port runs the app's original
# probes from ISTIO_KUBE_APP_PROBERS against a real app: httpGet (status
# relayed, headers passed, source address 127.0.0.6, timeout honoured
# without blocking the server), tcpSocket (open/closed port) and gRPC
# health (a @grpc/grpc-js server); /stats/prometheus merges the agent's,
# Envoy's (the stand-in's) and the app's metrics in one scrape.
set -u
. "$MZ_ROOT/e2e/agent/lib.sh"

[ -d "$MZ_ROOT/e2e/node_modules/@grpc/grpc-js" ] ||
    fail "e2e/node_modules missing: run scripts/deps.sh (npm install in e2e/)"

agent_ports
read -r APP TCP GRPC <<<"$(free_ports 3)"
make_cert_set "$MZ_WORK/certset1" app || fail "openssl"
mkdir -p "$MZ_WORK/certs" "$MZ_WORK/pod" "$MZ_WORK/app"
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset1"

$PY "$MZ_ROOT/e2e/agent/app.py" "$APP" "$MZ_WORK/app" &
remember $!
$PY -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(600)' "$TCP" &
TCP_PID=$!
remember $TCP_PID
node "$MZ_ROOT/e2e/agent/grpc_health.js" "$GRPC" "$MZ_WORK/grpc_state" >"$MZ_WORK/grpc.log" 2>&1 &
remember $!
wait_until 10 bash -c "curl -s -o /dev/null http://127.0.0.1:$APP/live" || fail "app did not start"
wait_until 10 grep -q 'grpc health on' "$MZ_WORK/grpc.log" || fail "gRPC server did not start: $(cat "$MZ_WORK/grpc.log")"

export POD_NAME=app-1 POD_NAMESPACE=default INSTANCE_IP=127.0.0.1 FAKE_ENVOY_READY_DELAY=0
export ISTIO_KUBE_APP_PROBERS="{\"/app-health/app/livez\":{\"tcpSocket\":{\"port\":$TCP},\"timeoutSeconds\":1},\
\"/app-health/app/readyz\":{\"httpGet\":{\"path\":\"/ready\",\"port\":$APP,\"scheme\":\"HTTP\"},\"timeoutSeconds\":1},\
\"/app-health/app/startupz\":{\"httpGet\":{\"path\":\"/slow\",\"port\":$APP},\"timeoutSeconds\":1},\
\"/app-health/grpc/livez\":{\"grpc\":{\"port\":$GRPC,\"service\":\"mizzen.test\"},\"timeoutSeconds\":2},\
\"/app-health/grpc/readyz\":{\"grpc\":{\"port\":$GRPC},\"timeoutSeconds\":2},\
\"/app-health/grpc/startupz\":{\"grpc\":{\"port\":$GRPC,\"service\":\"other\"},\"timeoutSeconds\":2},\
\"/app-lifecycle/app/poststartz\":{\"httpGet\":{\"path\":\"/hdr\",\"port\":$APP}},\
\"/app-lifecycle/app/prestopz\":{\"httpGet\":{\"path\":\"/hdr\",\"port\":$APP,\"httpHeaders\":[{\"name\":\"X-Probe\",\"value\":\"yes\"}]}}}"
export ISTIO_PROMETHEUS_ANNOTATIONS="{\"scrape\":\"true\",\"path\":\"/metrics\",\"port\":\"$APP\"}"

printf 'stats_flush_interval: 7s\n' >"$MZ_WORK/override.yaml"
export ISTIO_BOOTSTRAP_OVERRIDE="$MZ_WORK/override.yaml"

start_agent
wait_until 10 ready_via_envoy || fail "not ready"
ev argv 0 | grep -q -- '--config-yaml stats_flush_interval: 7s' ||
    fail "ISTIO_BOOTSTRAP_OVERRIDE not passed as --config-yaml: $(ev argv 0)"
ok "ISTIO_BOOTSTRAP_OVERRIDE reaches Envoy as --config-yaml"
S="http://127.0.0.1:$STATUS_PORT"

expect() { # expect PATH CODE WHAT
    local got
    got=$(http_code "$S$1")
    [ "$got" = "$2" ] || fail "$3: $1 answered $got, want $2"
}

# httpGet: the app's status is relayed, both ways
expect /app-health/app/readyz 200 "app ready"
[ "$(cat "$MZ_WORK/app/ready_peer")" = 127.0.0.6 ] ||
    fail "probe came from $(cat "$MZ_WORK/app/ready_peer"), want 127.0.0.6"
echo 503 >"$MZ_WORK/app/ready"
expect /app-health/app/readyz 503 "app not ready"
echo 200 >"$MZ_WORK/app/ready"
expect /app-health/app/readyz 200 "app ready again"
ok "httpGet readyz follows the app (200 -> 503 -> 200), probes leave from 127.0.0.6"
expect /app-lifecycle/app/prestopz 200 "httpHeaders passed"
expect /app-lifecycle/app/poststartz 418 "app status relayed"
ok "lifecycle httpGet: httpHeaders passed (200), other status codes relayed (418)"

# a slow app: the probe fails at its timeout, the server keeps answering
t0=$(date +%s%N)
http_code "$S/app-health/app/startupz" >"$MZ_WORK/slow.code" &
sleep 0.2
t1=$(date +%s%N)
expect /app-health/app/readyz 200 "probe during a slow probe"
fast=$((($(date +%s%N) - t1) / 1000000))
wait $!
slow=$((($(date +%s%N) - t0) / 1000000))
[ "$(cat "$MZ_WORK/slow.code")" = 500 ] || fail "slow probe: $(cat "$MZ_WORK/slow.code"), want 500"
[ "$slow" -lt 2800 ] || fail "slow probe took ${slow} ms, timeoutSeconds is 1"
[ "$fast" -lt 900 ] || fail "a probe took ${fast} ms while another was stuck"
ok "timeoutSeconds honoured (500 after ${slow} ms); other requests not blocked (${fast} ms)"

# tcpSocket
expect /app-health/app/livez 200 "tcp port open"
kill -KILL "$TCP_PID"
wait "$TCP_PID" 2>/dev/null
expect /app-health/app/livez 500 "tcp port closed"
ok "tcpSocket: open 200, closed 500"

# gRPC health
expect /app-health/grpc/readyz 200 "gRPC SERVING"
expect /app-health/grpc/livez 200 "gRPC SERVING (service mizzen.test)"
echo NOT_SERVING >"$MZ_WORK/grpc_state"
expect /app-health/grpc/readyz 500 "gRPC NOT_SERVING"
echo SERVING >"$MZ_WORK/grpc_state"
expect /app-health/grpc/readyz 200 "gRPC SERVING again"
expect /app-health/grpc/startupz 500 "gRPC unknown service (NOT_FOUND)"
ok "gRPC health: SERVING 200, NOT_SERVING 500, unknown service 500"

# unknown probers
expect /app-health/nope/readyz 400 "unknown container"
expect /app-health/app/bogusz 404 "not a prober path"
ok "unknown prober 400, malformed path 404"

# merged metrics
m=$(curl -s --max-time 10 "$S/stats/prometheus")
echo "$m" >"$MZ_WORK/metrics.txt"
echo "$m" | grep -q '^mizzen_agent_app_probes_total [1-9]' || fail "agent metrics missing"
echo "$m" | grep -q '^envoy_server_state{} 0$' || fail "Envoy metrics missing"
echo "$m" | grep -q '^app_requests_total [1-9]' || fail "app metrics missing"
[ "$(echo "$m" | grep -c '^# TYPE envoy_fake_stand_in ')" = 1 ] || fail "a family twice in the scrape"
echo "$m" | grep -q 'pid="app"' && fail "the app's duplicate of an Envoy family was not dropped"
[ "$(http_code "$S/metrics")" = 200 ] || fail "/metrics"
ok "one scrape holds agent + Envoy + app metrics; a duplicate family is dropped"

# an app that stops answering does not break the scrape
kill -KILL "$(head -n 1 "$MZ_WORK/pids")"
m=$(curl -s --max-time 10 "$S/stats/prometheus")
echo "$m" | grep -q '^envoy_server_state{} 0$' || fail "Envoy metrics missing without the app"
echo "$m" | grep -q '^app_requests_total' && fail "app metrics from a dead app"
# the agent's own metrics come first, so the failure shows in the next scrape
m=$(curl -s --max-time 10 "$S/stats/prometheus")
echo "$m" | grep -q '^mizzen_agent_scrape_failures_total [1-9]' || fail "scrape failure not counted"
ok "app down: still Envoy + agent metrics, failure counted"

# scrape caps: an app answering 2 MB (cap 64 KiB) and one answering after
# 3 s (timeout 500 ms) are left out; the scrape still answers, quickly
kill -TERM "$AGENT_PID"
wait_until 10 exited "$AGENT_PID" || fail "agent did not stop"
wait "$AGENT_PID"
read -r APP2 <<<"$(free_ports 1)"
$PY "$MZ_ROOT/e2e/agent/app.py" "$APP2" "$MZ_WORK/app" &
remember $!
wait_until 10 bash -c "curl -s -o /dev/null http://127.0.0.1:$APP2/live" || fail "app 2 did not start"
for what in big slow; do
    agent_ports
    export ISTIO_PROMETHEUS_ANNOTATIONS="{\"scrape\":\"true\",\"path\":\"/$what\",\"port\":\"$APP2\"}"
    start_agent --scrape-max-bytes 65536 --scrape-timeout 500ms
    wait_until 10 ready_via_envoy || fail "agent ($what) not ready"
    t0=$(date +%s%N)
    m=$(curl -s --max-time 10 "http://127.0.0.1:$STATUS_PORT/stats/prometheus")
    el=$((($(date +%s%N) - t0) / 1000000))
    echo "$m" | grep -q '^envoy_server_state{} 0$' || fail "$what: Envoy metrics missing"
    echo "$m" | grep -q '^big_metric' && fail "$what: app metrics over the cap were merged"
    [ "$el" -lt 2500 ] || fail "$what: scrape took ${el} ms with a 500 ms timeout"
    grep -q "scrape failed.*$APP2/$what" "$MZ_WORK/agent.log" || fail "$what: failure not logged"
    kill -TERM "$AGENT_PID"
    wait_until 10 exited "$AGENT_PID" || fail "agent ($what) did not stop"
    wait "$AGENT_PID"
    AGENT_PID=
    ok "app scrape '$what' left out (cap 64 KiB / timeout 500 ms), merged answer in ${el} ms"
done
echo "PASS"
