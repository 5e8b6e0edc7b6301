#!/usr/bin/env bash
# t_operator_rootexpiry.sh: a root that nears expiry is rotated without a
# request. The first operator makes a 2 h root (--root-cert-ttl 2h;
# workload certs are capped at the root's notAfter); a second one runs
# 100 minutes later (--clock-offset 100m), when less than the rotation grace
# (20%, 24 min) is left: it rotates the root on its own, and every Secret
# ends up verifying against the new root alone.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
. "$MZ_ROOT/e2e/operator/oplib.sh"

emu_start --bookmark-interval 1
op_setup
"${K[@]}" create namespace app1 >/dev/null
"${K[@]}" label namespace app1 istio-injection=enabled >/dev/null
"${K[@]}" -n app1 create serviceaccount alpha >/dev/null
has() { "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
logged() { grep -q "$2" "$MZ_WORK/$1.log"; }

op_start A --root-cert-ttl 2h
wait_for "istio.alpha issued under a 2 h root" 20 has app1 secret istio.alpha
op_stop A
sec_data istio-system istio-ca-secret ca-cert.pem >"$MZ_WORK/old.pem"
sec_data app1 istio.alpha cert-chain.pem >"$MZ_WORK/c1.pem"
check "the workload cert does not outlive the root" sh -c "
    [ \"\$(openssl x509 -in '$MZ_WORK/c1.pem' -noout -enddate)\" = \"\$(openssl x509 -in '$MZ_WORK/old.pem' -noout -enddate)\" ]"

at=$(($(date +%s) + 6000))
op_start B --root-cert-ttl 2h --clock-offset 100m --root-rotation-overlap 2s
wait_for "100 min later the root is due: rotation started by itself" 20 \
    logged B 'step=started reason="root nears expiry"'
wait_for "the rotation finished" 30 logged B 'step=finished'
op_stop B
sec_data istio-system istio-ca-secret ca-cert.pem >"$MZ_WORK/new.pem"
check "a new root" sh -c "! cmp -s '$MZ_WORK/old.pem' '$MZ_WORK/new.pem'"
check "the new root lives 2 h from the operator's clock" sh -c "
    openssl x509 -in '$MZ_WORK/new.pem' -noout -checkend $((6000 + 7000)) &&
    ! openssl x509 -in '$MZ_WORK/new.pem' -noout -checkend $((6000 + 7500))"
sec_data app1 istio.alpha cert-chain.pem >"$MZ_WORK/c2.pem"
check "istio.alpha verifies against the new root alone (at the operator's time)" \
    openssl verify -attime "$at" -CAfile "$MZ_WORK/new.pem" "$MZ_WORK/c2.pem"
check "every Secret verifies against its namespace bundle, one root" \
    snap --ns app1 --want-roots 1 --attime "$at"
emu_stop
finish
