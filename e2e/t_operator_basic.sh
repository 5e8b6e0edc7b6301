#!/usr/bin/env bash
# t_operator_basic.sh: mizzen-operator against the emulator: the CA Secret,
# workload Secrets istio.<sa> (openssl verify against the namespace's
# ConfigMap bundle, SPIFFE SAN, owner), unlabeled namespaces untouched,
# labeling later, ServiceAccount deletion, deleted / corrupted / key-swapped
# Secrets and an edited bundle repaired, the webhook certificate and the
# MutatingWebhookConfiguration caBundle set and repaired.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
. "$MZ_ROOT/e2e/operator/oplib.sh"

emu_start --bookmark-interval 1 --access-log "$MZ_WORK/access.log"
op_user op
export OP_KC="$MZ_WORK/kc-op"
op_setup
"${K[@]}" create namespace app1 >/dev/null
"${K[@]}" label namespace app1 istio-injection=enabled >/dev/null
"${K[@]}" -n app1 create serviceaccount alpha >/dev/null
"${K[@]}" -n app1 create serviceaccount beta >/dev/null
"${K[@]}" create namespace plain >/dev/null
"${K[@]}" -n plain create serviceaccount gamma >/dev/null
op_start A --metrics-addr 127.0.0.1:0

has() { "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
wait_for "Secret istio-ca-secret created" 20 has istio-system secret istio-ca-secret
expect_eq "CA Secret type" "istio.io/ca-root" \
    "$("${K[@]}" -n istio-system get secret istio-ca-secret -o jsonpath='{.type}')"
sec_data istio-system istio-ca-secret ca-cert.pem >"$MZ_WORK/root.pem"
check "CA root: self-signed CA, EC P-256, ~10 years" sh -c "
    openssl verify -CAfile '$MZ_WORK/root.pem' '$MZ_WORK/root.pem' &&
    openssl x509 -in '$MZ_WORK/root.pem' -noout -text | grep -q 'CA:TRUE' &&
    openssl x509 -in '$MZ_WORK/root.pem' -noout -text | grep -q 'prime256v1' &&
    openssl x509 -in '$MZ_WORK/root.pem' -noout -checkend $((9 * 365 * 86400))"

for sa in alpha beta default; do
    wait_for "Secret istio.$sa in app1" 20 has app1 secret "istio.$sa"
done
wait_for "ConfigMap istio-ca-root-cert in app1" 20 has app1 configmap istio-ca-root-cert
expect_eq "three workload Secrets in app1" 3 \
    "$("${K[@]}" -n app1 get secrets --field-selector type=istio.io/key-and-cert -o name | wc -l)"
check "istio.alpha verifies against the ConfigMap bundle (openssl verify)" verify_secret app1 istio.alpha
sec_data app1 istio.beta cert-chain.pem >"$MZ_WORK/beta.chain"
sec_data app1 istio.beta root-cert.pem >"$MZ_WORK/beta.root"
sec_data app1 istio.beta key.pem >"$MZ_WORK/beta.key"
check "openssl verify -CAfile root-cert.pem cert-chain.pem" \
    openssl verify -CAfile "$MZ_WORK/beta.root" "$MZ_WORK/beta.chain"
check "SAN is the SPIFFE id" sh -c "openssl x509 -in '$MZ_WORK/beta.chain' -noout -ext subjectAltName |
    grep -qx '    URI:spiffe://cluster.local/ns/app1/sa/beta'"
check "key usage + EKU for mTLS client and server" sh -c "
    openssl x509 -in '$MZ_WORK/beta.chain' -noout -ext keyUsage,extendedKeyUsage | tee /dev/stderr |
    grep -q 'Digital Signature' &&
    openssl x509 -in '$MZ_WORK/beta.chain' -noout -ext extendedKeyUsage | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication'"
check "90-day TTL" sh -c "openssl x509 -in '$MZ_WORK/beta.chain' -noout -checkend $((89 * 86400)) &&
    ! openssl x509 -in '$MZ_WORK/beta.chain' -noout -checkend $((91 * 86400))"
check "key.pem matches cert-chain.pem" sh -c "
    [ \"\$(openssl pkey -in '$MZ_WORK/beta.key' -pubout)\" = \"\$(openssl x509 -in '$MZ_WORK/beta.chain' -noout -pubkey)\" ]"
"${K[@]}" -n app1 get secret istio.beta -o json >"$MZ_WORK/beta.json"
"${K[@]}" -n app1 get serviceaccount beta -o json >"$MZ_WORK/beta-sa.json"
expect_eq "type istio.io/key-and-cert" "istio.io/key-and-cert" "$(jpy "$MZ_WORK/beta.json" 'd["type"]')"
expect_eq "annotation istio.io/service-account.name" beta \
    "$(jpy "$MZ_WORK/beta.json" 'd["metadata"]["annotations"]["istio.io/service-account.name"]')"
expect_eq "owned by the ServiceAccount (uid)" "$(jpy "$MZ_WORK/beta-sa.json" 'd["metadata"]["uid"]')" \
    "$(jpy "$MZ_WORK/beta.json" '[r["uid"] for r in d["metadata"]["ownerReferences"] if r["kind"]=="ServiceAccount"][0]')"
check "root-cert.pem == ConfigMap bundle == CA cert" sh -c "
    cmp '$MZ_WORK/beta.root' '$MZ_WORK/root.pem'"

# the webhook certificate and the caBundle
wait_for "Secret mizzen-webhook-certs" 20 has istio-system secret mizzen-webhook-certs
sec_data istio-system mizzen-webhook-certs tls.crt >"$MZ_WORK/wh.crt"
sec_data istio-system mizzen-webhook-certs ca.crt >"$MZ_WORK/wh.ca"
check "webhook cert verifies against ca.crt" openssl verify -CAfile "$MZ_WORK/wh.ca" "$MZ_WORK/wh.crt"
check "webhook cert DNS SANs" sh -c "openssl x509 -in '$MZ_WORK/wh.crt' -noout -ext subjectAltName |
    grep -q 'DNS:mizzen-webhook.istio-system.svc, DNS:mizzen-webhook.istio-system.svc.cluster.local'"
mwc_cab() {
    "${K[@]}" get mutatingwebhookconfiguration istio-sidecar-injector \
        -o jsonpath="{.webhooks[$1].clientConfig.caBundle}" | base64 -d
}
mwc_ok() { [ "$(mwc_cab 0)" = "$(cat "$MZ_WORK/root.pem")" ] && [ "$(mwc_cab 1)" = "$(cat "$MZ_WORK/root.pem")" ]; }
wait_for "MWC caBundle of both entries = the root" 20 mwc_ok
"${K[@]}" patch mutatingwebhookconfiguration istio-sidecar-injector --type=json \
    -p '[{"op":"remove","path":"/webhooks/0/clientConfig/caBundle"},{"op":"replace","path":"/webhooks/1/clientConfig/caBundle","value":"Zm9v"}]' >/dev/null
wait_for "MWC caBundle repaired after clearing and editing" 20 mwc_ok

# unlabeled namespaces get nothing; labeling later does
sleep 1
expect_eq "no Secrets in the unlabeled namespace" 0 \
    "$("${K[@]}" -n plain get secrets --field-selector type=istio.io/key-and-cert -o name | wc -l)"
check "no bundle ConfigMap in the unlabeled namespace" sh -c "! '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' -n plain get configmap istio-ca-root-cert"
"${K[@]}" label namespace plain istio-injection=enabled >/dev/null
wait_for "labeling later: istio.gamma appears" 20 has plain secret istio.gamma
wait_for "labeling later: ConfigMap appears" 20 has plain configmap istio-ca-root-cert
check "istio.gamma verifies" verify_secret plain istio.gamma

# unlabeling: what exists is left alone, nothing new is made
"${K[@]}" label namespace plain istio-injection- >/dev/null
"${K[@]}" -n plain create serviceaccount epsilon >/dev/null
sleep 2
check "unlabeling leaves the Secret and the ConfigMap in place" sh -c "
    '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' -n plain get secret istio.gamma &&
    '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' -n plain get configmap istio-ca-root-cert"
check "no Secret for a new ServiceAccount of an unlabeled namespace" sh -c "
    ! '${K[0]}' --cache-dir '$MZ_WORK/kc-cache' -n plain get secret istio.epsilon"
"${K[@]}" label namespace plain istio-injection=enabled >/dev/null
wait_for "labeled again: istio.epsilon appears" 20 has plain secret istio.epsilon

# new ServiceAccount, deleted ServiceAccount
"${K[@]}" -n app1 create serviceaccount delta >/dev/null
wait_for "a new ServiceAccount gets its Secret" 20 has app1 secret istio.delta
"${K[@]}" -n app1 delete serviceaccount delta >/dev/null
gone() { ! "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
wait_for "deleting the ServiceAccount deletes its Secret" 20 gone app1 secret istio.delta

# a deleted Secret comes back
old=$(cert_info app1 istio.alpha)
"${K[@]}" -n app1 delete secret istio.alpha >/dev/null
wait_for "a deleted Secret comes back" 20 has app1 secret istio.alpha
check "the re-created Secret verifies" verify_secret app1 istio.alpha

# a corrupted certificate comes back valid
valid_again() { verify_secret "$1" "$2" >/dev/null 2>&1 && [ "$(cert_info "$1" "$2")" != "$3" ]; }
old=$(cert_info app1 istio.alpha)
"${K[@]}" -n app1 patch secret istio.alpha --type=merge \
    -p "{\"data\":{\"cert-chain.pem\":\"$(printf 'garbage' | base64 -w0)\"}}" >/dev/null
wait_for "garbage cert-chain.pem re-issued and valid" 20 valid_again app1 istio.alpha "$old"

# a key from another Secret (swapped key) comes back valid
old=$(cert_info app1 istio.alpha)
key=$("${K[@]}" -n app1 get secret istio.default -o jsonpath='{.data.key\.pem}')
"${K[@]}" -n app1 patch secret istio.alpha --type=merge -p "{\"data\":{\"key.pem\":\"$key\"}}" >/dev/null
key_ok() {
    valid_again app1 istio.alpha "$old" &&
    [ "$(sec_data app1 istio.alpha key.pem | openssl pkey -pubout)" = \
      "$(sec_data app1 istio.alpha cert-chain.pem | openssl x509 -noout -pubkey)" ]
}
wait_for "swapped key re-issued, key matches cert" 20 key_ok

# a certificate from a foreign CA is replaced
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=evil \
    -addext "subjectAltName=URI:spiffe://cluster.local/ns/app1/sa/beta" \
    -keyout "$MZ_WORK/evil.key" -out "$MZ_WORK/evil.crt" 2>/dev/null
old=$(cert_info app1 istio.beta)
"${K[@]}" -n app1 patch secret istio.beta --type=merge -p "{\"data\":{\"cert-chain.pem\":\"$(base64 -w0 <"$MZ_WORK/evil.crt")\",\"key.pem\":\"$(base64 -w0 <"$MZ_WORK/evil.key")\"}}" >/dev/null
wait_for "a self-signed impostor cert is replaced" 20 valid_again app1 istio.beta "$old"

# a Secret of another type squatting on the name is reported, not replaced
"${K[@]}" -n app1 create secret generic istio.zeta --from-literal=x=y >/dev/null
"${K[@]}" -n app1 create serviceaccount zeta >/dev/null
wait_for "a squatting Opaque Secret istio.zeta is reported" 20 \
    grep -q 'level=warn comp=wlsecret msg="Secret exists but is not in the cache (another type?); will retry" ns=app1 name=istio.zeta' "$MZ_WORK/A.log"
expect_eq "the squatting Secret is left alone" Opaque \
    "$("${K[@]}" -n app1 get secret istio.zeta -o jsonpath='{.type}')"
"${K[@]}" -n app1 delete serviceaccount zeta >/dev/null

# an edited / deleted bundle ConfigMap is repaired
"${K[@]}" -n app1 patch configmap istio-ca-root-cert --type=merge \
    -p '{"data":{"root-cert.pem":"tampered"}}' >/dev/null
bundle_ok() { [ "$(cm_bundle app1)" = "$(cat "$MZ_WORK/root.pem")" ]; }
wait_for "an edited ConfigMap is repaired" 20 bundle_ok
"${K[@]}" -n app1 delete configmap istio-ca-root-cert >/dev/null
wait_for "a deleted ConfigMap comes back" 20 bundle_ok

# the whole state
check "every Secret in app1 and plain verifies against its namespace bundle" snap --ns app1,plain
check "no private key in the operator log" sh -c "! grep -q 'PRIVATE KEY' '$MZ_WORK/A.log'"
check "reconciles are logged with ns/name and action" \
    grep -q 'comp=wlsecret msg=reconciled ns=app1 name=istio.alpha action=repaired' "$MZ_WORK/A.log"
# the monitoring endpoint
mport=$(sed -n 's/.*msg="serving \/metrics \/healthz \/readyz".* port=\([0-9]*\).*/\1/p' "$MZ_WORK/A.log")
murl="http://127.0.0.1:$mport"
check "/healthz and /readyz answer 200" sh -c "curl -sf $murl/healthz && curl -sf $murl/readyz"
curl -sf "$murl/metrics" >"$MZ_WORK/metrics.txt"
metric() { sed -n "s/^$1 //p" "$MZ_WORK/metrics.txt"; }
expect_eq "metric: leader" 1 "$(metric mizzen_operator_leader)"
check "metric: certs issued >= 6, repaired >= 1, caBundle writes >= 2" sh -c "
    [ $(metric 'mizzen_operator_certs_written_total{action="issued"}') -ge 6 ] &&
    [ $(metric 'mizzen_operator_certs_written_total{action="repaired"}') -ge 1 ] &&
    [ $(metric mizzen_operator_cabundle_writes_total) -ge 2 ]"
expect_eq "metric: workload Secrets in the cache" 6 \
    "$(metric 'mizzen_operator_cache_objects{informer="workload_secrets"}')"
expect_eq "metric: root rotation phase idle" 0 "$(metric mizzen_operator_root_rotation_phase)"
check "/metrics carries no key material" sh -c "! grep -q 'PRIVATE' '$MZ_WORK/metrics.txt'"
op_stop A
grep -E 'level=(warn|error)' "$MZ_WORK/A.log" | head -5
rbac_check op
emu_stop
finish
