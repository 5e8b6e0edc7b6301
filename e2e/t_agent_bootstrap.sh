#!/usr/bin/env bash
# t_agent_bootstrap.sh: mizzen-agent writes an Envoy bootstrap that the real
# Envoy v3 Bootstrap proto accepts (e2e/xds/xdsvalidate.js, protobufjs +
# the protos of @grpc/grpc-js-xds), starts Envoy (the stand-in) with the
# 2019 pilot-agent command line, and reports ready through Envoy's 15021
# listener only once Envoy is LIVE; `mizzen-agent wait` holds until then.
set -u
. "$MZ_ROOT/e2e/agent/lib.sh"

# make test runs `make deps` first, so a missing node_modules is a failure
[ -d "$MZ_ROOT/e2e/node_modules/@grpc/grpc-js-xds/deps" ] ||
    fail "e2e/node_modules missing: run scripts/deps.sh (npm install in e2e/)"
command -v node >/dev/null || fail "node not installed"

agent_ports
make_cert_set "$MZ_WORK/certset1" reviews || fail "openssl"
mkdir -p "$MZ_WORK/certs" "$MZ_WORK/pod"
kubelet_publish "$MZ_WORK/certs" "$MZ_WORK/certset1"
printf 'app="reviews"\nversion="v1"\nsecurity.istio.io/tlsMode="istio"\n' >"$MZ_WORK/pod/labels"
printf 'kubectl.kubernetes.io/default-container="reviews"\nnote="a \\"quoted\\" value"\n' >"$MZ_WORK/pod/annotations"

export POD_NAME=reviews-v1-abc POD_NAMESPACE=bookinfo INSTANCE_IP=127.0.0.1
export SERVICE_ACCOUNT=bookinfo-reviews TRUST_DOMAIN=cluster.local
export ISTIO_META_CLUSTER_ID=Kubernetes ISTIO_META_WORKLOAD_NAME=reviews-v1
export ISTIO_META_INTERCEPTION_MODE=REDIRECT ISTIO_META_MESH_ID=cluster.local
export ISTIO_META_APP_CONTAINERS=reviews
export PROXY_CONFIG='{"discoveryAddress":"mizzen-operator.istio-system.svc:15012","drainDuration":"30s","parentShutdownDuration":"40s","concurrency":2,"terminationDrainDuration":"1s"}'
export FAKE_ENVOY_READY_DELAY=2

start_agent
wait_until 10 test -s "$MZ_WORK/cfg/envoy-rev0.json" || fail "no envoy-rev0.json"
ok "envoy-rev0.json written"

# readiness: 503 while the stand-in is not LIVE yet (2 s), then 200, both
# on the status port and through the stand-in's readiness listener
wait_until 5 ev_eq 1 count start || fail "Envoy not started"
code=$(http_code "http://127.0.0.1:$STATUS_PORT/healthz/ready")
[ "$code" = 503 ] || fail "/healthz/ready before Envoy is LIVE: $code, want 503"
ok "/healthz/ready is 503 before Envoy is LIVE"
"$AGENT" wait --url "http://127.0.0.1:$READY_PORT/healthz/ready" \
    --timeoutSeconds 10 --periodMillis 200 >>"$MZ_WORK/wait.log" 2>&1 ||
    fail "mizzen-agent wait did not see the proxy ready"
ready_via_envoy || fail "15021-style listener does not report ready"
ok "mizzen-agent wait returned once ready; ready through Envoy's readiness listener"

start=$(date +%s%N)
"$AGENT" wait --url "http://127.0.0.1:$ADMIN_PORT/nope" --timeoutSeconds 1 \
    --periodMillis 100 >>"$MZ_WORK/wait.log" 2>&1 && fail "wait on a 404 URL succeeded"
el=$((($(date +%s%N) - start) / 1000000))
[ "$el" -lt 4000 ] || fail "wait --timeoutSeconds 1 took ${el} ms"
ok "mizzen-agent wait gives up after --timeoutSeconds (${el} ms)"

# the bootstrap against the real proto
node "$MZ_ROOT/e2e/xds/xdsvalidate.js" --type envoy.config.bootstrap.v3.Bootstrap \
    "$MZ_WORK/cfg/envoy-rev0.json" >"$MZ_WORK/validate.log" 2>&1 ||
    { cat "$MZ_WORK/validate.log"; fail "bootstrap rejected by the Envoy proto"; }
grep -q '^OK ' "$MZ_WORK/validate.log" || fail "validator printed no OK"
ok "bootstrap validates as envoy.config.bootstrap.v3.Bootstrap"

# and a broken copy must fail (the validator is not a rubber stamp)
$PY - "$MZ_WORK/cfg/envoy-rev0.json" "$MZ_WORK/broken.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["static_resources"]["clusters"][0]["connect_timeout"] = 5
json.dump(d, open(sys.argv[2], "w"))
EOF
node "$MZ_ROOT/e2e/xds/xdsvalidate.js" --type envoy.config.bootstrap.v3.Bootstrap \
    "$MZ_WORK/broken.json" >"$MZ_WORK/validate-bad.log" 2>&1 &&
    fail "validator accepted a Duration given as a number"
ok "validator rejects a broken bootstrap"

# content of the bootstrap
$PY - "$MZ_WORK/cfg/envoy-rev0.json" "$ADMIN_PORT" "$STATUS_PORT" "$PROM_PORT" "$READY_PORT" "$MZ_WORK/certs" <<'EOF' || fail "bootstrap content"
import json, sys
b = json.load(open(sys.argv[1]))
admin, status, prom, ready, certs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
def check(cond, what):
    if not cond:
        print("bootstrap: " + what); sys.exit(1)
n = b["node"]
check(n["id"] == "sidecar~127.0.0.1~reviews-v1-abc.bookinfo~default.svc.cluster.local", "node id " + n["id"])
check(n["cluster"] == "reviews.bookinfo", "node cluster " + n["cluster"])
md = n["metadata"]
for k, v in {"NAMESPACE": "bookinfo", "NAME": "reviews-v1-abc", "INSTANCE_IPS": "127.0.0.1",
             "SERVICE_ACCOUNT": "bookinfo-reviews", "MESH_ID": "cluster.local", "CLUSTER_ID": "Kubernetes",
             "WORKLOAD_NAME": "reviews-v1", "INTERCEPTION_MODE": "REDIRECT", "APP_CONTAINERS": "reviews"}.items():
    check(md.get(k) == v, "metadata %s=%r" % (k, md.get(k)))
check(md["LABELS"] == {"app": "reviews", "version": "v1", "security.istio.io/tlsMode": "istio"}, "LABELS")
check(md["ANNOTATIONS"]["note"] == 'a "quoted" value', "ANNOTATIONS")
check(md["PROXY_CONFIG"]["concurrency"] == 2, "PROXY_CONFIG")
check(b["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": admin}, "admin")
dr = b["dynamic_resources"]
check(dr["ads_config"]["api_type"] == "GRPC" and dr["ads_config"]["set_node_on_first_message_only"], "ads")
check(dr["ads_config"]["grpc_services"][0]["envoy_grpc"]["cluster_name"] == "xds-grpc", "ads cluster")
check(dr["lds_config"]["ads"] == {} and dr["cds_config"]["resource_api_version"] == "V3", "lds/cds")
cl = {c["name"]: c for c in b["static_resources"]["clusters"]}
ep = lambda c: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
check(ep(cl["prometheus_stats"])["port_value"] == admin, "prometheus_stats -> admin")
check(ep(cl["agent"])["port_value"] == status, "agent -> status port")
x = cl["xds-grpc"]
check(ep(x) == {"address": "mizzen-operator.istio-system.svc", "port_value": 15012}, "xds-grpc endpoint")
check(x["type"] == "STRICT_DNS", "xds-grpc type")
opts = x["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
check("http2_protocol_options" in opts["explicit_http_config"], "xds-grpc http2")
tls = x["transport_socket"]["typed_config"]
ctx = tls["common_tls_context"]
check(ctx["tls_certificates"][0]["certificate_chain"]["filename"] == certs + "/cert-chain.pem", "cert chain file")
check(ctx["tls_certificates"][0]["private_key"]["filename"] == certs + "/key.pem", "key file")
vc = ctx["validation_context"]
check(vc["trusted_ca"]["filename"] == certs + "/root-cert.pem", "root cert file")
check(vc["match_typed_subject_alt_names"][0]["matcher"]["exact"] ==
      "spiffe://cluster.local/ns/istio-system/sa/mizzen-operator", "xDS server SAN")
ls = {l["name"]: l for l in b["static_resources"]["listeners"]}
check("0.0.0.0_%d" % prom in ls and "0.0.0.0_%d" % ready in ls, "listeners %s" % list(ls))
r = ls["0.0.0.0_%d" % ready]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]
check(r["virtual_hosts"][0]["routes"][0] == {"match": {"prefix": "/healthz/ready"}, "route": {"cluster": "agent"}}, "15021 route")
print("bootstrap content ok")
EOF
ok "node id, metadata, admin, ADS, xds-grpc over mTLS with the certs dir, static listeners"

# Envoy's command line (2019 pilot-agent, hot-restart era)
args=$(ev argv 0)
echo "envoy argv: $args"
want="-c $MZ_WORK/cfg/envoy-rev0.json --restart-epoch 0 --drain-time-s 30 --parent-shutdown-time-s 40 --local-address-ip-version v4 -l warning --component-log-level misc:error --concurrency 2"
[ "$args" = "$want" ] || fail "envoy argv: got '$args' want '$want'"
ok "Envoy command line (epoch 0, drain/parent-shutdown from PROXY_CONFIG, --concurrency 2)"

# SIGTERM ends it (drain 1 s from PROXY_CONFIG terminationDrainDuration)
kill -TERM "$AGENT_PID"
wait_until 8 exited "$AGENT_PID" || fail "agent did not exit on SIGTERM"
wait "$AGENT_PID"
rc=$?
[ "$rc" = 0 ] || fail "agent exit status $rc, want Envoy's 0"
AGENT_PID=
ok "agent exits with Envoy's status after SIGTERM"
echo "PASS"
