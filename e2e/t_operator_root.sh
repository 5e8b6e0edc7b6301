#!/usr/bin/env bash
# t_operator_root.sh: root CA rotation without downtime. A rotation is
# requested with the annotation mizzen.io/rotate-root=true on
# istio-ca-secret; while it runs, consistent snapshots (one resourceVersion)
# are polled, and afterwards EVERY state of the API server in which a
# Secret or ConfigMap changed is replayed (resourceVersionMatch=Exact): in
# each, every workload Secret verifies (openssl) against the bundle
# ConfigMap of its namespace. The operator is killed during the overlap and
# a new one finishes the rotation from the state kept in the CA Secret.
# Finally the old root is gone from every bundle, the webhook certificate
# and the MWC caBundle follow the new root.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
. "$MZ_ROOT/e2e/operator/oplib.sh"

emu_start --bookmark-interval 1 --access-log "$MZ_WORK/access.log"
op_user op
export OP_KC="$MZ_WORK/kc-op"
op_setup
for ns in app1 app2; do
    "${K[@]}" create namespace $ns >/dev/null
    "${K[@]}" label namespace $ns istio-injection=enabled >/dev/null
done
"${K[@]}" -n app1 create serviceaccount alpha >/dev/null
"${K[@]}" -n app1 create serviceaccount beta >/dev/null
"${K[@]}" -n app2 create serviceaccount gamma >/dev/null
op_start A --root-rotation-overlap 8s

has() { "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
for s in app1/istio.alpha app1/istio.beta app1/istio.default app2/istio.gamma app2/istio.default; do
    wait_for "Secret $s" 20 has "${s%/*}" secret "${s#*/}"
done
wait_for "Secret mizzen-webhook-certs" 20 has istio-system secret mizzen-webhook-certs
wait_for "state before: every Secret verifies, one root" 20 snap --ns app1,app2 --want-roots 1
sec_data istio-system istio-ca-secret ca-cert.pem >"$MZ_WORK/old.pem"
start_rv=$(curl -sS --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" \
    "$EMU_URL/api/v1/secrets?limit=1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')

echo "requesting a root rotation (start rv $start_rv)"
"${K[@]}" -n istio-system annotate secret istio-ca-secret mizzen.io/rotate-root=true >/dev/null
phase() {
    "${K[@]}" -n istio-system get secret istio-ca-secret \
        -o jsonpath='{.metadata.annotations.mizzen\.io/root-rotation-phase}'
}
# live polling: consistent snapshots until the overlap phase
snaps=0 bad=0 seen2=0 killed=0
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
    if out=$(snap --ns app1,app2); then :; else bad=$((bad + 1)); echo "$out"; fi
    snaps=$((snaps + 1))
    case "$out" in *"roots=2"*) seen2=1 ;; esac
    p=$(phase)
    if [ "$p" = overlap ] && [ $killed = 0 ]; then
        echo "phase overlap reached: SIGKILL the operator, start another"
        kill -KILL "$OP_PID_A"
        wait "$OP_PID_A" 2>/dev/null
        killed=1
        op_start B --root-rotation-overlap 8s
    fi
    if [ $killed = 1 ] && [ -z "$p" ]; then
        break
    fi
    sleep 0.2
done
echo "live snapshots: $snaps, failed: $bad"
expect_eq "every live snapshot verified" 0 "$bad"
expect_eq "a snapshot showed the old+new bundle" 1 "$seen2"
expect_eq "the rotation finished (phase annotation removed)" "" "$(phase)"
check "replay: every Secret verifies against its namespace bundle in EVERY state" \
    snap --ns app1,app2 --replay "$start_rv"
cp "$MZ_WORK/check.out" "$MZ_WORK/replay.out"
sed -n '1p;$p' "$MZ_WORK/replay.out"
check "replay saw 2-root bundles" grep -q 'roots=2 ok' "$MZ_WORK/replay.out"

sec_data istio-system istio-ca-secret ca-cert.pem >"$MZ_WORK/new.pem"
check "the root changed" sh -c "! cmp -s '$MZ_WORK/old.pem' '$MZ_WORK/new.pem'"
wait_for "final: one root in every bundle" 20 snap --ns app1,app2 --want-roots 1
bundle_is_new() { [ "$(cm_bundle "$1")" = "$(cat "$MZ_WORK/new.pem")" ]; }
for ns in app1 app2; do
    check "bundle in $ns is the new root only" bundle_is_new $ns
done
all_new() {
    local s
    for s in app1/istio.alpha app1/istio.beta app1/istio.default app2/istio.gamma app2/istio.default; do
        sec_data "${s%/*}" "${s#*/}" cert-chain.pem >"$MZ_WORK/c.pem"
        openssl verify -CAfile "$MZ_WORK/new.pem" "$MZ_WORK/c.pem" || return 1
        if openssl verify -CAfile "$MZ_WORK/old.pem" "$MZ_WORK/c.pem" >/dev/null 2>&1; then
            echo "$s still verifies against the old root"
            return 1
        fi
    done
}
check "every workload cert verifies against the NEW root alone" all_new
check "no previous/next root left in the CA Secret" sh -c "
    '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' -n istio-system get secret istio-ca-secret -o json |
    $PY -c 'import json,sys; d=json.load(sys.stdin); assert set(d[\"data\"])=={\"ca-cert.pem\",\"ca-key.pem\"}, d[\"data\"].keys(); assert \"mizzen.io/rotate-root\" not in d[\"metadata\"].get(\"annotations\",{})'"
sec_data istio-system mizzen-webhook-certs tls.crt >"$MZ_WORK/wh.crt"
check "the webhook cert is from the new root" openssl verify -CAfile "$MZ_WORK/new.pem" "$MZ_WORK/wh.crt"
check "the MWC caBundle is the new root" sh -c "
    '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' get mutatingwebhookconfiguration istio-sidecar-injector \
        -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | base64 -d | cmp - '$MZ_WORK/new.pem'"
check "operator B continued the rotation (finished step logged)" grep -q 'step=finished' "$MZ_WORK/B.log"
op_stop B
rbac_check op
emu_stop
finish
