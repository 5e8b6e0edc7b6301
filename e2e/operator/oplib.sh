# e2e/operator/oplib.sh: helpers for the mizzen-operator e2e tests (source
# after e2e/apiserver/testlib.sh and emu_start).
#   op_setup                 istio-system + mesh config + MWC
#   op_start NAME [flags]    start bin/mizzen-operator (log $MZ_WORK/NAME.log),
#                            sets OP_PID_<NAME>; fast lease timings
#   op_stop NAME             SIGTERM it, wait, expect exit 0
#   sec_data NS NAME KEY     print a Secret's data key (decoded)
#   sec_field NS NAME JSONPATH
#   verify_secret NS NAME [attime]   openssl verify cert-chain.pem against
#                            the namespace's ConfigMap bundle
#   snap ARGS...             e2e/operator/snap.py with the emulator's URL/token
K=(kubectl --cache-dir "$MZ_WORK/kc-cache")
OPBIN="$MZ_BINDIR/mizzen-operator"

op_setup() {
    "${K[@]}" create namespace istio-system >/dev/null
    "${K[@]}" apply --validate=false -f "$MZ_ROOT/manifests/istio-mesh.yaml" \
        -f "$MZ_ROOT/manifests/mutatingwebhook.yaml" >/dev/null
}

op_start() {
    local name=$1
    shift
    "$OPBIN" --kubeconfig "${OP_KC:-$KUBECONFIG}" --namespace istio-system \
        --lease-duration 8s --lease-renew-deadline 6s --lease-retry-period 1s \
        "$@" >>"$MZ_WORK/$name.log" 2>&1 &
    local pid=$!
    eval "OP_PID_$name=$pid"
    EXTRA_PIDS="${EXTRA_PIDS:-} $pid"
    echo "operator $name pid $pid: $*"
}

op_stop() {
    local name=$1 pid rc=0
    eval "pid=\$OP_PID_$name"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" || rc=$?
    expect_eq "operator $name exits 0 on SIGTERM" 0 "$rc"
}

sec_data() {
    "${K[@]}" -n "$1" get secret "$2" -o json |
        $PY -c 'import json,sys,base64; d=json.load(sys.stdin).get("data",{}); print(base64.b64decode(d.get(sys.argv[1],"")).decode(), end="")' "$3"
}

cm_bundle() {
    "${K[@]}" -n "$1" get configmap istio-ca-root-cert -o json |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["root-cert.pem"], end="")'
}

verify_secret() {
    local ns=$1 name=$2 at=${3:-}
    sec_data "$ns" "$name" cert-chain.pem >"$MZ_WORK/v.chain" || return 1
    cm_bundle "$ns" >"$MZ_WORK/v.roots" || return 1
    openssl verify ${at:+-attime "$at"} -CAfile "$MZ_WORK/v.roots" "$MZ_WORK/v.chain"
}

cert_info() { # ns name -> "serial notAfter"
    sec_data "$1" "$2" cert-chain.pem | openssl x509 -noout -serial -enddate |
        tr '\n' ' '
}

snap() {
    $PY "$MZ_ROOT/e2e/operator/snap.py" "$EMU_URL" "$EMU_TOKEN" "$MZ_WORK/ca.crt" "$@"
}

# op_user NAME: an API user for an operator (emulator token) and its
# kubeconfig $MZ_WORK/kc-NAME; op_start uses it when OP_KC points there.
op_user() {
    emu_post /emulator/faults "{\"action\":\"add-token\",\"token\":\"tok-$1\",\"user\":\"$1\"}" >/dev/null
    sed "s/^\( *token: \).*/\1tok-$1/" "$KUBECONFIG" >"$MZ_WORK/kc-$1"
}

# rbac_check USER...: every request of these users in the access log
# ($MZ_WORK/access.log) is allowed by manifests/operator-rbac.yaml.
rbac_check() {
    check "least-privilege RBAC allows every request the operator made" \
        $PY "$MZ_ROOT/e2e/operator/rbaccheck.py" "$MZ_ROOT/manifests/operator-rbac.yaml" \
        "$MZ_WORK/access.log" "$@"
    sed 's/^/       /' "$MZ_WORK/check.out" | tail -n 8
}
