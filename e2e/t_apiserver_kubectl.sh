#!/usr/bin/env bash
# t_apiserver_kubectl: drive the API server emulator with real kubectl binaries: the machine's
# kubectl (a gcloud dispatcher picks kubectl.1.NN from the server's /version), a versioned
# kubectl.1.30 when present, and Debian's kubernetes-client 1.20 (with --validate=false) when
# present (/usr/bin/kubectl on a plain Debian machine, or $MZ_DEBIAN_KUBECTL).
# apply (namespace, deployment, service, configmap, CRD + custom resource), get -o json/yaml,
# label, annotate, patch (merge, json, strategic), get -w, rollout status, scale, pagination
# (--chunk-size), server-side apply with conflicts, delete (cascade, finalizers, namespace).
set -u
: "${MZ_WORK:?}" "${MZ_ROOT:?}"
. "$MZ_ROOT/e2e/apiserver/testlib.sh"

kubectls=()
add_kubectl() {
    local k="$1" r
    [ -x "$k" ] || return 0
    r=$(readlink -f "$k")
    for x in "${kubectls[@]}"; do
        [ "$(readlink -f "$x")" = "$r" ] && [ "$x" != /usr/bin/kubectl ] && return 0
    done
    kubectls+=("$k")
}
add_kubectl "$(command -v kubectl || echo /nonexistent)"
add_kubectl /usr/lib/google-cloud-sdk/bin/kubectl.1.30
add_kubectl "${MZ_DEBIAN_KUBECTL:-/nonexistent}"
[ "${#kubectls[@]}" -gt 0 ] || { echo "no kubectl found"; exit 1; }

emu_start --bookmark-interval 1

cat >"$MZ_WORK/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
EOF

scenario() {
    local K0="$1" n="$2" ver="$3"
    local K=("$K0" --cache-dir "$MZ_WORK/cache-$n")
    local V=()
    local minor=${ver#*.}
    if [ "$minor" -lt 27 ]; then V=(--validate=false); fi
    local ns="team-$n"
    local d="$MZ_WORK/s$n"
    mkdir -p "$d"
    echo "=== kubectl $K0 (v$ver) in namespace $ns ${V[*]:-}"

    cat >"$d/app.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels: {team: "$n"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $ns, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{name: http, containerPort: 8080}]
        env: [{name: A, value: "1"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $ns}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: $ns}
data: {mode: blue}
EOF
    check "apply namespace, deployment, service, configmap" "${K[@]}" apply "${V[@]}" -f "$d/app.yaml"
    check "apply CRD" "${K[@]}" apply "${V[@]}" -f "$MZ_WORK/crd.yaml"
    cat >"$d/w.yaml" <<EOF
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: $ns}
spec: {size: 3}
EOF
    wait_for "apply custom resource once the CRD is served" 20 "${K[@]}" apply "${V[@]}" -f "$d/w.yaml"
    sed -i 's/size: 3/size: 4/' "$d/w.yaml"
    check "re-apply custom resource (merge patch)" "${K[@]}" apply "${V[@]}" -f "$d/w.yaml"
    "${K[@]}" get widgets.example.com w1 -n "$ns" -o json >"$d/w.json"
    expect_eq "custom resource spec.size after re-apply" 4 "$(jpy "$d/w.json" 'd["spec"]["size"]')"
    expect_eq "custom resource generation bumped" 2 "$(jpy "$d/w.json" 'd["metadata"]["generation"]')"
    "${K[@]}" get ns "$ns" -o json >"$d/ns.json"
    expect_eq "namespace gets kubernetes.io/metadata.name" "$ns" \
        "$(jpy "$d/ns.json" 'd["metadata"]["labels"]["kubernetes.io/metadata.name"]')"
    "${K[@]}" get ns "$ns" -o yaml >"$d/ns.yaml"
    check "get -o yaml" grep -q "^  name: $ns\$" "$d/ns.yaml"

    check "rollout status" timeout 30 "${K[@]}" rollout status -n "$ns" deploy/web --timeout=25s
    "${K[@]}" get pods -n "$ns" -l app=web -o json >"$d/pods.json"
    expect_eq "deployment made 2 running pods" "Running Running" \
        "$(jpy "$d/pods.json" '" ".join(p["status"]["phase"] for p in d["items"])')"
    expect_eq "pod IPs are inside 127.1.0.0/16" true \
        "$(jpy "$d/pods.json" 'all(p["status"]["podIP"].startswith("127.1.") for p in d["items"])')"
    wait_for "endpoints list both pods on the named target port" 10 sh -c \
        "'${K[0]}' --cache-dir '$MZ_WORK/cache-$n' get ep web -n $ns -o jsonpath='{.subsets[0].addresses[*].ip} {.subsets[0].ports[0].port}' | grep -Eq '^127\.1\.[0-9.]+ 127\.1\.[0-9.]+ 8080$'"

    check "label namespace" "${K[@]}" label ns "$ns" istio-injection=enabled
    "${K[@]}" get ns "$ns" -o json >"$d/ns.json"
    expect_eq "label stored" enabled "$(jpy "$d/ns.json" 'd["metadata"]["labels"]["istio-injection"]')"
    check "annotate configmap" "${K[@]}" annotate cm settings -n "$ns" owner=qa
    check "patch --type=merge" "${K[@]}" patch cm settings -n "$ns" --type=merge -p '{"data":{"mode":"green","extra":"x"}}'
    check "patch --type=json (test + replace)" "${K[@]}" patch cm settings -n "$ns" --type=json \
        -p '[{"op":"test","path":"/data/mode","value":"green"},{"op":"replace","path":"/data/mode","value":"red"},{"op":"remove","path":"/data/extra"}]'
    if "${K[@]}" patch cm settings -n "$ns" --type=json -p '[{"op":"test","path":"/data/mode","value":"blue"}]' >"$d/p.out" 2>&1; then
        echo "FAIL failing json-patch test op must be refused"
        FAILS=$((FAILS + 1))
    else
        echo "ok   failing json-patch test op refused: $(head -c 150 "$d/p.out")"
    fi
    "${K[@]}" get cm settings -n "$ns" -o json >"$d/cm.json"
    expect_eq "configmap after patches" '{"mode": "red"} qa' \
        "$(jpy "$d/cm.json" 'json.dumps(d["data"])+" "+d["metadata"]["annotations"]["owner"]')"
    check "patch --type=strategic (env merged by name)" "${K[@]}" patch deploy web -n "$ns" --type=strategic \
        -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}'
    "${K[@]}" get deploy web -n "$ns" -o json >"$d/deploy.json"
    expect_eq "strategic merge kept the container and merged env" "web:A=1,B=2" \
        "$(jpy "$d/deploy.json" '";".join(c["name"]+":"+",".join(e["name"]+"="+e["value"] for e in c["env"]) for c in d["spec"]["template"]["spec"]["containers"])')"
    check "rollout status after template change" timeout 30 "${K[@]}" rollout status -n "$ns" deploy/web --timeout=25s
    "${K[@]}" get rs -n "$ns" -o json >"$d/rs.json"
    expect_eq "rollout left 2 ReplicaSets, old one scaled to 0" "0,2" \
        "$(jpy "$d/rs.json" '",".join(str(r["spec"]["replicas"]) for r in sorted(d["items"], key=lambda r: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))')"

    # get -w: a background watch must see the update; killed by PID.
    "${K[@]}" get cm settings -n "$ns" -w -o jsonpath='{.data.mode}{"\n"}' >"$d/watch.out" 2>&1 &
    local wpid=$!
    EXTRA_PIDS="${EXTRA_PIDS:-} $wpid"
    wait_for "get -w printed the current state" 10 grep -qx red "$d/watch.out"
    "${K[@]}" patch cm settings -n "$ns" --type=merge -p '{"data":{"mode":"watched"}}' >/dev/null
    wait_for "get -w saw the update" 10 grep -qx watched "$d/watch.out"
    kill "$wpid" 2>/dev/null
    wait "$wpid" 2>/dev/null
    check "get -w printed no bogus rows (bookmarks only when asked)" sh -c "! grep -v -x -e red -e watched '$d/watch.out'"

    check "scale deployment to 3" "${K[@]}" scale deploy web -n "$ns" --replicas=3
    check "rollout status after scale" timeout 30 "${K[@]}" rollout status -n "$ns" deploy/web --timeout=25s
    expect_eq "3 pods after scale-up" 3 "$("${K[@]}" get pods -n "$ns" -l app=web -o name | wc -l)"

    local i
    for i in 1 2 3 4 5 6 7; do
        "${K[@]}" create configmap "page-$i" -n "$ns" --from-literal=i="$i" >/dev/null
    done
    "${K[@]}" get cm -n "$ns" --chunk-size=2 -o name -v=6 >"$d/chunks.out" 2>"$d/chunks.err"
    expect_eq "get --chunk-size=2 returns every configmap" 9 "$(grep -c '^configmap/' "$d/chunks.out")"
    expect_eq "pagination used 5 pages (4 continue requests)" 4 "$(grep -c 'continue=' "$d/chunks.err")"
    "${K[@]}" label cm -n "$ns" page-2 page-3 page-4 tier=a >/dev/null
    "${K[@]}" label cm -n "$ns" page-3 --overwrite tier=b >/dev/null
    "${K[@]}" get cm -n "$ns" -l 'tier in (a,b),tier!=b' -o name >"$d/sel.out"
    expect_eq "label selector with in and !=" "configmap/page-2 configmap/page-4" "$(echo $(cat "$d/sel.out"))"
    expect_eq "label selector !key" 6 "$("${K[@]}" get cm -n "$ns" -l '!tier' -o name | wc -l)"
    "${K[@]}" get pods -A --field-selector "metadata.namespace=$ns,status.phase=Running" -o name >"$d/fs.out"
    expect_eq "field selector namespace+phase" 3 "$(wc -l <"$d/fs.out")"

    cat >"$d/ssa.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: $ns}
data: {owner: first}
EOF
    check "server-side apply creates" "${K[@]}" apply "${V[@]}" --server-side --field-manager=first -f "$d/ssa.yaml"
    sed -i 's/owner: first/owner: second/' "$d/ssa.yaml"
    if "${K[@]}" apply "${V[@]}" --server-side --field-manager=second -f "$d/ssa.yaml" >"$d/ssa.out" 2>&1; then
        echo "FAIL server-side apply by another manager must conflict"
        FAILS=$((FAILS + 1))
    else
        check "server-side apply conflict names the other manager" grep -q 'conflict with "first"' "$d/ssa.out"
    fi
    check "server-side apply --force-conflicts" "${K[@]}" apply "${V[@]}" --server-side --field-manager=second --force-conflicts -f "$d/ssa.yaml"
    expect_eq "forced value stored" second "$("${K[@]}" get cm ssa -n "$ns" -o jsonpath='{.data.owner}')"

    check "delete custom resource" "${K[@]}" delete widgets.example.com w1 -n "$ns"
    check "delete deployment" "${K[@]}" delete deploy web -n "$ns"
    wait_for "ReplicaSets and pods garbage-collected" 15 sh -c \
        "[ -z \"\$('${K[0]}' --cache-dir '$MZ_WORK/cache-$n' get rs,pods -n $ns -o name)\" ]"
    check "delete namespace (waits for its content to go)" timeout 40 "${K[@]}" delete ns "$ns" --timeout=35s
    if "${K[@]}" get ns "$ns" >/dev/null 2>&1; then
        echo "FAIL namespace still exists"
        FAILS=$((FAILS + 1))
    else
        echo "ok   namespace is gone"
    fi
    expect_eq "no configmaps left in the deleted namespace" "" "$("${K[@]}" get cm -n "$ns" -o name 2>/dev/null)"
    check "delete CRD" "${K[@]}" delete -f "$MZ_WORK/crd.yaml"
}

n=0
for k in "${kubectls[@]}"; do
    n=$((n + 1))
    ver=$("$k" --cache-dir "$MZ_WORK/cache-v$n" version -o json 2>/dev/null |
        "$PY" -c 'import json,sys; d=json.load(sys.stdin)["clientVersion"]; print(d["major"]+"."+d["minor"].rstrip("+"))')
    scenario "$k" "$n" "${ver:-1.20}"
done

check "emulator logged no internal errors" sh -c "! grep -q Traceback '$EMU_ERR'"
emu_stop

echo "=== kubeconfig with a client certificate instead of a token"
emu_start --kubeconfig-auth cert
check "kubeconfig has client-certificate-data and no token" sh -c \
    "grep -q client-certificate-data '$EMU_KC' && ! grep -q 'token:' '$EMU_KC'"
check "kubectl authenticates with the client certificate" \
    "${kubectls[0]}" --cache-dir "$MZ_WORK/cache-cert" get ns kube-system
emu_stop
finish
