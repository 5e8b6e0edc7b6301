#!/usr/bin/env bash
# t_operator_cacerts.sh: a plugged-in CA. The user's Secret cacerts
# (ca-cert.pem, ca-key.pem = an intermediate CA, root-cert.pem,
# cert-chain.pem; made with the openssl CLI) is used instead of a
# self-signed root: no istio-ca-secret is created, workload chains are
# leaf + intermediate, and the published bundle is the user's root.
# Settings come from the mesh config (trustDomain, mizzenOperator:
# workloadCertTTL, keyAlgorithm) and the environment wins over it.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
. "$MZ_ROOT/e2e/operator/oplib.sh"

D="$MZ_WORK/pki"
mkdir -p "$D"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=example/CN=User Root CA" -keyout "$D/root.key" -out "$D/root.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/O=example/CN=Intermediate CA" -keyout "$D/ca.key" -out "$D/ca.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$D/ext"
openssl x509 -req -in "$D/ca.csr" -CA "$D/root.pem" -CAkey "$D/root.key" -CAcreateserial \
    -days 1000 -extfile "$D/ext" -out "$D/ca.pem" 2>/dev/null
cat "$D/ca.pem" "$D/root.pem" >"$D/chain.pem"

emu_start --bookmark-interval 1
op_setup
"${K[@]}" -n istio-system create secret generic cacerts --from-file=ca-cert.pem="$D/ca.pem" \
    --from-file=ca-key.pem="$D/ca.key" --from-file=root-cert.pem="$D/root.pem" \
    --from-file=cert-chain.pem="$D/chain.pem" >/dev/null
"${K[@]}" -n istio-system patch configmap istio --type=merge -p '{"data":{"mesh":"trustDomain: example.org\nmizzenOperator:\n  workloadCertTTL: 24h\n  keyAlgorithm: rsa-2048\n"}}' >/dev/null
"${K[@]}" create namespace app1 >/dev/null
"${K[@]}" label namespace app1 istio-injection=enabled >/dev/null
"${K[@]}" -n app1 create serviceaccount alpha >/dev/null
MIZZEN_WORKLOAD_CERT_TTL=12h op_start A

has() { "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
wait_for "istio.alpha issued" 20 has app1 secret istio.alpha
wait_for "bundle ConfigMap" 20 has app1 configmap istio-ca-root-cert
check "no istio-ca-secret when cacerts exists" sh -c "! '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' -n istio-system get secret istio-ca-secret"
cm_bundle app1 >"$MZ_WORK/bundle.pem"
check "the bundle is the user's root" cmp "$MZ_WORK/bundle.pem" "$D/root.pem"
sec_data app1 istio.alpha cert-chain.pem >"$MZ_WORK/chain.pem"
expect_eq "cert-chain.pem = leaf + intermediate" 2 "$(grep -c 'BEGIN CERTIFICATE' "$MZ_WORK/chain.pem")"
check "the chain verifies against the user's root (openssl)" \
    openssl verify -CAfile "$MZ_WORK/bundle.pem" -untrusted "$MZ_WORK/chain.pem" "$MZ_WORK/chain.pem"
check "the leaf is signed by the intermediate" sh -c "
    openssl x509 -in '$MZ_WORK/chain.pem' -noout -issuer | grep -q 'Intermediate CA'"
check "every Secret verifies against its namespace bundle" snap --ns app1 --td example.org
check "mesh config trustDomain: SAN spiffe://example.org/ns/app1/sa/alpha" sh -c "
    openssl x509 -in '$MZ_WORK/chain.pem' -noout -ext subjectAltName | grep -q 'URI:spiffe://example.org/ns/app1/sa/alpha'"
check "mesh config keyAlgorithm: an RSA 2048 key" sh -c "
    openssl x509 -in '$MZ_WORK/chain.pem' -noout -text | grep -q 'Public-Key: (2048 bit)'"
check "environment beats mesh config: 12h TTL (not 24h)" sh -c "
    openssl x509 -in '$MZ_WORK/chain.pem' -noout -checkend $((11 * 3600)) &&
    ! openssl x509 -in '$MZ_WORK/chain.pem' -noout -checkend $((13 * 3600))"
sec_data istio-system mizzen-webhook-certs tls.crt >"$MZ_WORK/wh.pem"
check "the webhook cert chains to the user's root" \
    openssl verify -CAfile "$D/root.pem" -untrusted "$MZ_WORK/wh.pem" "$MZ_WORK/wh.pem"
"${K[@]}" -n istio-system annotate secret cacerts mizzen.io/rotate-root=true >/dev/null
sleep 1
check "a plugged-in CA is never rotated by the operator" sh -c "! grep -q 'root rotation' '$MZ_WORK/A.log'"
op_stop A
emu_stop
finish
