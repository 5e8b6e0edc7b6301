#!/usr/bin/env bash
# demo.sh: the embedded default that `make demo` runs.
#
# Starts the Kubernetes API server emulator, installs the shipped ConfigMaps
# and the MutatingWebhookConfiguration, starts mizzen-operator (when built:
# it issues the webhook certificate, the caBundle and workload Secrets) or
# else a serving certificate made with openssl, starts mizzen-webhook, then
# applies the sample app (manifests/samples/hello.yaml) with kubectl and shows
# the injected pods. Everything listens on 127.0.0.1 only.
#
#   DEMO_KEEP=1 e2e/demo.sh    keep everything running until Ctrl-C
#   MZ_BINDIR=DIR              binaries to use (default bin/)
# Exits 0 and prints "demo: N/N pods injected" when every pod got a sidecar.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${MZ_BINDIR:-bin}
PY=/usr/bin/python3
WORK=${DEMO_WORK:-$(mktemp -d /tmp/mizzen-demo.XXXXXX)}
mkdir -p "$WORK"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() { # what secs cmd...
    local what=$1 secs=$2 i
    shift 2
    for i in $(seq 1 $((secs * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "demo: timed out waiting for $what" >&2
    return 1
}

for b in mizzen-webhook mizzenctl; do
    [ -x "$BIN/$b" ] || { echo "demo: $BIN/$b missing (run make)" >&2; exit 1; }
done

WPORT=$(free_port)
say "Kubernetes API server emulator (logs in $WORK)"
"$ROOT/e2e/apiserver/run" --port 0 --kubeconfig-out "$WORK/kubeconfig" \
    --service-host "mizzen-webhook.istio-system.svc=127.0.0.1:$WPORT" \
    >"$WORK/apiserver.out" 2>"$WORK/apiserver.err" &
PIDS+=($!)
wait_for "the emulator" 30 grep -q '^listening on' "$WORK/apiserver.out"
cat "$WORK/apiserver.out"
export KUBECONFIG="$WORK/kubeconfig"
K=(kubectl --cache-dir "$WORK/kcache")
"${K[@]}" version 2>/dev/null | sed 's/^/  /' || true

say "Control plane configuration (namespace istio-system)"
"${K[@]}" create namespace istio-system
"${K[@]}" apply --validate=false -f manifests/istio-sidecar-injector.yaml \
    -f manifests/istio-mesh.yaml -f manifests/mutatingwebhook.yaml

CERTS="$WORK/webhook-certs"
mkdir -p "$CERTS"
if [ -x "$BIN/mizzen-operator" ]; then
    say "mizzen-operator: CA, webhook certificate, caBundle, workload Secrets"
    "$BIN/mizzen-operator" --kubeconfig "$KUBECONFIG" --namespace istio-system \
        >"$WORK/operator.log" 2>&1 &
    PIDS+=($!)
    wait_for "Secret mizzen-webhook-certs" 60 \
        "${K[@]}" -n istio-system get secret mizzen-webhook-certs
    for f in tls.crt tls.key ca.crt; do
        "${K[@]}" -n istio-system get secret mizzen-webhook-certs \
            -o "jsonpath={.data.${f//./\\.}}" | base64 -d >"$CERTS/$f"
    done
else
    say "Webhook serving certificate (openssl; mizzen-operator not built yet)"
    e2e/webhook/mkcert.sh "$CERTS" tls >/dev/null
    CABUNDLE=$(base64 -w0 <"$CERTS/ca.crt")
    for i in 0 1; do
        "${K[@]}" patch mutatingwebhookconfiguration istio-sidecar-injector \
            --type=json -p "[{\"op\":\"add\",\"path\":\"/webhooks/$i/clientConfig/caBundle\",\"value\":\"$CABUNDLE\"}]" >/dev/null
    done
fi

say "mizzen-webhook on 127.0.0.1:$WPORT"
"$BIN/mizzen-webhook" --addr 127.0.0.1 --port "$WPORT" \
    --tls-cert "$CERTS/tls.crt" --tls-key "$CERTS/tls.key" \
    --injector-config manifests/istio-sidecar-injector.yaml \
    --mesh-config manifests/istio-mesh.yaml >"$WORK/webhook.log" 2>&1 &
PIDS+=($!)
# by the Service's name, as the API server checks it (the operator's
# certificate has DNS SANs only)
wait_for "webhook readiness" 30 curl -sf --cacert "$CERTS/ca.crt" \
    --resolve "mizzen-webhook.istio-system.svc:$WPORT:127.0.0.1" \
    "https://mizzen-webhook.istio-system.svc:$WPORT/readyz"
wait_for "caBundle in the MutatingWebhookConfiguration" 60 sh -c \
    "\"\$0\" --cache-dir '$WORK/kcache' get mutatingwebhookconfiguration istio-sidecar-injector -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | grep -q ." kubectl
echo "  ready"

say "Sample app (manifests/samples/hello.yaml) in namespace demo (istio-injection=enabled)"
"${K[@]}" apply --validate=false -f manifests/samples/hello.yaml
"${K[@]}" -n demo rollout status deployment/hello --timeout=60s

say "Pods"
"${K[@]}" -n demo get pods -o custom-columns='NAME:.metadata.name,IP:.status.podIP,INIT:.spec.initContainers[*].name,CONTAINERS:.spec.containers[*].name,PHASE:.status.phase'
"${K[@]}" -n demo get pods -o json >"$WORK/pods.json"

say "What the sidecar injector did to the first pod"
$PY - "$WORK/pods.json" <<'EOF'
import json, sys
pods = json.load(open(sys.argv[1]))["items"]
p = pods[0]
ann = p["metadata"].get("annotations", {})
init = {c["name"]: c for c in p["spec"].get("initContainers", [])}
cont = {c["name"]: c for c in p["spec"]["containers"]}
print("  istio-init args:  ", " ".join(init["istio-init"]["args"]))
print("  istio-proxy image:", cont["istio-proxy"]["image"])
print("  status annotation:", ann.get("sidecar.istio.io/status"))
print("  readiness probe:  ", json.dumps(cont["hello"]["readinessProbe"]["httpGet"]))
env = {e["name"]: e.get("value") for e in cont["istio-proxy"].get("env", [])}
print("  app probers:      ", env.get("ISTIO_KUBE_APP_PROBERS"))
print("  prometheus:       ", {k: v for k, v in ann.items() if k.startswith("prometheus.io/")})
vols = [v["name"] for v in p["spec"]["volumes"]]
print("  volumes:          ", ", ".join(vols))
EOF

if [ -x "$BIN/mizzen-operator" ]; then
    say "Workload identity (Secret istio.hello in namespace demo)"
    if wait_for "Secret istio.hello" 30 "${K[@]}" -n demo get secret istio.hello; then
        "${K[@]}" -n demo get secret istio.hello -o jsonpath='{.data.cert-chain\.pem}' |
            base64 -d | openssl x509 -noout -subject -ext subjectAltName -enddate 2>/dev/null |
            sed 's/^/  /'
    fi
fi

injected=$($PY -c '
import json,sys
pods=json.load(open(sys.argv[1]))["items"]
ok=[p for p in pods if any(c["name"]=="istio-proxy" for c in p["spec"]["containers"])
    and any(c["name"]=="istio-init" for c in p["spec"].get("initContainers",[]))]
print("%d/%d" % (len(ok), len(pods)))' "$WORK/pods.json")
echo
echo "demo: $injected pods injected"
echo "      webhook log: $WORK/webhook.log   API server log: $WORK/apiserver.err"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
    echo "      KUBECONFIG=$KUBECONFIG  (Ctrl-C stops everything)"
    wait "${PIDS[0]}"
fi
[ "${injected%%/*}" = "${injected##*/}" ] && [ "${injected%%/*}" != 0 ]
