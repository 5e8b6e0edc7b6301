#!/usr/bin/env bash
# t_kubeclient: the C Kubernetes client (lib/kubecfg, lib/kubeclient) through
# tests/tools/kubeclient_tool against the API server emulator:
# - 10k ConfigMaps created through the client, listed in pages (limit 500,
#   1000, 37) with every object seen once, and the number of list requests
#   checked in the emulator's stats;
# - the 409 optimistic-concurrency loop with two writer processes;
# - kubeconfig variants: token, tokenFile, CA data vs file, insecure,
#   tls-server-name (good and bad), a KUBECONFIG colon list, a missing
#   context, an exec plugin; client certificate data vs file against a small
#   TLS server that requires a client certificate;
# - in-cluster config from a fake service-account folder + env;
# - a 500 retried, a 429 whose Retry-After is honoured.
set -u
: "${MZ_WORK:?}" "${MZ_ROOT:?}" "${MZ_BINDIR:?}"
source "$MZ_ROOT/e2e/apiserver/testlib.sh"
case "$MZ_BINDIR" in /*) KT="$MZ_BINDIR/kubeclient_tool" ;; *) KT="$MZ_ROOT/$MZ_BINDIR/kubeclient_tool" ;; esac
cd "$MZ_WORK"
[ -x "$KT" ] || { echo "missing $KT"; exit 1; }

emu_start
CA_B64=$(base64 -w0 <"$MZ_WORK/ca.crt")

# ---- pagination over 10k objects ----
check "create namespace bulk" "$KT" -k "$EMU_KC" create namespaces - \
    '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bulk"}}'
t0=$(date +%s)
out=$("$KT" -k "$EMU_KC" bulk configmaps bulk cm 10000 2>&1)
expect_eq "10000 ConfigMaps created through the client" "created=10000" "$out"
echo "     (created in $(($(date +%s) - t0)) s)"
curl -sS --cacert ca.crt -H "Authorization: Bearer $EMU_TOKEN" \
    "$EMU_URL/api/v1/namespaces/bulk/configmaps" >all.json
want=$(jpy all.json 'len(d["items"])')
[ "$want" -ge 10000 ] || { echo "FAIL server holds $want ConfigMaps"; FAILS=$((FAILS + 1)); }
curl -sS --cacert ca.crt -H "Authorization: Bearer $EMU_TOKEN" -X DELETE \
    "$EMU_URL/emulator/stats" >/dev/null
for lim in 500 1000 37; do
    out=$("$KT" -k "$EMU_KC" list configmaps bulk $lim 2>&1)
    got=$(printf '%s\n' "$out" | sed -n 's/^items=\([0-9]*\) unique=\([0-9]*\) .*/\1 \2/p')
    expect_eq "list limit=$lim: every object exactly once" "$want $want" "$got"
done
curl -sS --cacert ca.crt -H "Authorization: Bearer $EMU_TOKEN" "$EMU_URL/emulator/stats" >stats.json
pages=$(jpy stats.json 'd["requests"]["list configmaps"]["count"]')
expect_eq "pages requested (500, 1000, 37 per page)" \
    $((($want + 499) / 500 + ($want + 999) / 1000 + ($want + 36) / 37)) "$pages"

# ---- 409 retry loop, two processes ----
check "create counter" "$KT" -k "$EMU_KC" create configmaps default \
    '{"metadata":{"name":"counter"},"data":{"count":"0"}}'
"$KT" -k "$EMU_KC" incr default counter 40 >w1.out 2>&1 &
p1=$!
"$KT" -k "$EMU_KC" incr default counter 40 >w2.out 2>&1 &
p2=$!
EXTRA_PIDS="$p1 $p2"
rc1=0; rc2=0
wait $p1 || rc1=$?
wait $p2 || rc2=$?
EXTRA_PIDS=""
expect_eq "writer exit codes" "0 0" "$rc1 $rc2"
"$KT" -k "$EMU_KC" get configmaps default counter >counter.json
expect_eq "both writers' increments are in the final value" 80 \
    "$(jpy counter.json 'd["data"]["count"]')"
echo "     (conflicts: $(cat w1.out) / $(cat w2.out))"

# ---- kubeconfig variants ----
kc() { # kc FILE SERVER-URL CLUSTER-EXTRA USER-BODY [CONTEXT-EXTRA]
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
current-context: t
clusters:
- name: c
  cluster:
    server: $2
$3
users:
- name: u
  user:
$4
contexts:
- name: t
  context: {cluster: c, user: u, namespace: team-x}
EOF
}
get_ns() { "$KT" -k "$1" get namespaces - default >/dev/null; }

kc kc-token.yaml "$EMU_URL" "    certificate-authority-data: $CA_B64" "    token: $EMU_TOKEN"
check "token + CA data" get_ns kc-token.yaml
mkdir -p sub/pki
cp ca.crt sub/pki/ca.crt
printf '%s\n' "$EMU_TOKEN" >sub/token
kc sub/kc-files.yaml "$EMU_URL" "    certificate-authority: pki/ca.crt" "    tokenFile: token"
check "tokenFile + CA file, relative to the kubeconfig" get_ns sub/kc-files.yaml
(cd / && "$KT" -k "$MZ_WORK/sub/kc-files.yaml" get namespaces - default >/dev/null) &&
    echo "ok   relative paths do not depend on the working folder" ||
    { echo "FAIL relative paths from /"; FAILS=$((FAILS + 1)); }
kc kc-insecure.yaml "$EMU_URL" "    insecure-skip-tls-verify: true" "    token: $EMU_TOKEN"
check "insecure-skip-tls-verify without a CA" get_ns kc-insecure.yaml
kc kc-noca.yaml "$EMU_URL" "" "    token: $EMU_TOKEN"
out=$("$KT" -r -1 -k kc-noca.yaml get namespaces - default 2>&1)
expect_eq "no CA: the emulator's certificate is refused" "RC_TLS" \
    "$(printf '%s' "$out" | sed -n 's/^error: \(RC_[A-Z]*\).*/\1/p')"
kc kc-sni.yaml "https://localhost:$EMU_PORT" \
    "    certificate-authority-data: $CA_B64
    tls-server-name: kubernetes.default.svc" "    token: $EMU_TOKEN"
check "tls-server-name kubernetes.default.svc" get_ns kc-sni.yaml
kc kc-sni-bad.yaml "$EMU_URL" \
    "    certificate-authority-data: $CA_B64
    tls-server-name: wrong.example.com" "    token: $EMU_TOKEN"
out=$("$KT" -r -1 -k kc-sni-bad.yaml get namespaces - default 2>&1)
case "$out" in
*RC_TLS*wrong.example.com*) echo "ok   a tls-server-name not in the certificate fails" ;;
*) echo "FAIL bad tls-server-name: $out"; FAILS=$((FAILS + 1)) ;;
esac
kc kc-badtoken.yaml "$EMU_URL" "    certificate-authority-data: $CA_B64" "    token: tok-SECRET-4711"
out=$("$KT" -k kc-badtoken.yaml get namespaces - default 2>&1)
case "$out" in
*RC_DENIED*http=401*) echo "ok   an unknown token gives RC_DENIED (401)" ;;
*) echo "FAIL unknown token: $out"; FAILS=$((FAILS + 1)) ;;
esac
case "$out" in
*SECRET*) echo "FAIL the token is in the error message: $out"; FAILS=$((FAILS + 1)) ;;
*) echo "ok   the token is not in the error message" ;;
esac

# KUBECONFIG colon list: contexts in one file, clusters/users in another
cat >kc-ctx.yaml <<EOF
current-context: second
contexts:
- name: second
  context: {cluster: c, user: u, namespace: from-list}
EOF
out=$(KUBECONFIG="$MZ_WORK/missing.yaml:$MZ_WORK/kc-ctx.yaml:$MZ_WORK/kc-token.yaml" \
    "$KT" config 2>&1)
expect_eq "KUBECONFIG list: context from the 2nd file, cluster from the 3rd" \
    "server=$EMU_URL namespace=from-list" \
    "$(printf '%s\n' "$out" | grep -E '^(server|namespace)=' | tr '\n' ' ' | sed 's/ $//')"
check "KUBECONFIG list: a call works" env \
    KUBECONFIG="$MZ_WORK/kc-ctx.yaml:$MZ_WORK/kc-token.yaml" "$KT" get namespaces - default
out=$("$KT" -k kc-token.yaml -c nope config 2>&1)
case "$out" in
*RC_NOTFOUND*'context "nope" not found'*) echo "ok   missing context: clear error" ;;
*) echo "FAIL missing context: $out"; FAILS=$((FAILS + 1)) ;;
esac
kc kc-exec.yaml "$EMU_URL" "" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/echo"
out=$("$KT" -k kc-exec.yaml config 2>&1)
case "$out" in
*RC_UNSUPPORTED*exec*) echo "ok   exec plugin refused with RC_UNSUPPORTED" ;;
*) echo "FAIL exec: $out"; FAILS=$((FAILS + 1)) ;;
esac

# ---- client certificates: a TLS server that requires one ----
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cca.key \
    -out cca.crt -days 2 -subj /CN=client-ca
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cli.key \
    -out cli.csr -subj "/CN=mizzen-client/O=system:masters"
printf 'extendedKeyUsage=clientAuth\n' >cli.ext
ossl x509 -req -in cli.csr -CA cca.crt -CAkey cca.key -CAcreateserial -out cli.crt -days 2 \
    -extfile cli.ext
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key \
    -out other.csr -subj /CN=other
printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
    -out srv.csr -subj /CN=srv
ossl x509 -req -in srv.csr -CA cca.crt -CAkey cca.key -CAcreateserial -out srv.crt -days 2 \
    -extfile srv.ext
cat >mtls.py <<'EOF'
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        cn = dict(x[0] for x in self.connection.getpeercert()["subject"])["commonName"]
        body = json.dumps({"kind": "Namespace", "metadata": {"name": "default"},
                           "clientCN": cn}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("srv.crt", "srv.key")
ctx.load_verify_locations("cca.crt")
ctx.verify_mode = ssl.CERT_REQUIRED
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open("mtls.port", "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
"$PY" mtls.py 2>mtls.err &
MTLS_PID=$!
EXTRA_PIDS="$MTLS_PID"
wait_for "mTLS test server up" 10 test -s mtls.port
MURL="https://127.0.0.1:$(cat mtls.port)"
kc kc-cert-data.yaml "$MURL" "    certificate-authority-data: $(base64 -w0 <cca.crt)" \
    "    client-certificate-data: $(base64 -w0 <cli.crt)
    client-key-data: $(base64 -w0 <cli.key)"
"$KT" -k kc-cert-data.yaml get namespaces - default >cert1.json 2>&1
expect_eq "client certificate/key data presented" mizzen-client "$(jpy cert1.json 'd["clientCN"]' 2>&1)"
kc kc-cert-file.yaml "$MURL" "    certificate-authority: cca.crt" \
    "    client-certificate: cli.crt
    client-key: cli.key"
"$KT" -k kc-cert-file.yaml get namespaces - default >cert2.json 2>&1
expect_eq "client certificate/key files presented" mizzen-client "$(jpy cert2.json 'd["clientCN"]' 2>&1)"
kc kc-cert-none.yaml "$MURL" "    certificate-authority: cca.crt" "    token: x"
out=$("$KT" -r -1 -k kc-cert-none.yaml get namespaces - default 2>&1)
case "$out" in
*"error: RC_"*) echo "ok   no client certificate: refused (${out%% http=*})" ;;
*) echo "FAIL no client cert: $out"; FAILS=$((FAILS + 1)) ;;
esac
kc kc-cert-mismatch.yaml "$MURL" "    certificate-authority: cca.crt" \
    "    client-certificate: cli.crt
    client-key: other.key"
out=$("$KT" -r -1 -k kc-cert-mismatch.yaml get namespaces - default 2>&1)
case "$out" in
*"error: RC_TLS"*) echo "ok   a key that does not match the certificate: RC_TLS" ;;
*) echo "FAIL mismatched key: $out"; FAILS=$((FAILS + 1)) ;;
esac
if grep -q "PRIVATE KEY" <<<"$out"; then
    echo "FAIL key material in the message"; FAILS=$((FAILS + 1))
fi
kill "$MTLS_PID" 2>/dev/null
wait "$MTLS_PID" 2>/dev/null
EXTRA_PIDS=""

# ---- in-cluster ----
SA="$MZ_WORK/root/var/run/secrets/kubernetes.io/serviceaccount"
mkdir -p "$SA"
cp ca.crt "$SA/ca.crt"
printf '%s' "$EMU_TOKEN" >"$SA/token"
printf 'team-ic\n' >"$SA/namespace"
out=$(KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$EMU_PORT \
    "$KT" -i "$MZ_WORK/root" config 2>&1)
expect_eq "in-cluster: server and namespace" "server=https://127.0.0.1:$EMU_PORT namespace=team-ic" \
    "$(printf '%s\n' "$out" | grep -E '^(server|namespace)=' | tr '\n' ' ' | sed 's/ $//')"
check "in-cluster: a call with the service-account token and CA" env \
    KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$EMU_PORT" \
    "$KT" -i "$MZ_WORK/root" get namespaces - default
out=$(env -u KUBERNETES_SERVICE_HOST "$KT" -i "$MZ_WORK/root" config 2>&1)
case "$out" in
*RC_NOTFOUND*) echo "ok   in-cluster without KUBERNETES_SERVICE_HOST: RC_NOTFOUND" ;;
*) echo "FAIL in-cluster without env: $out"; FAILS=$((FAILS + 1)) ;;
esac

# ---- retries ----
emu_post /emulator/faults '{"action":"fail","code":500,"count":2,"path":"configmaps/counter$"}' >/dev/null
check "500 twice, then the answer" "$KT" -k "$EMU_KC" get configmaps default counter
emu_post /emulator/faults \
    '{"action":"fail","code":429,"count":1,"retryAfter":2,"path":"configmaps/counter$"}' >/dev/null
t0=$(date +%s%N)
check "429 with Retry-After: 2, then the answer" "$KT" -k "$EMU_KC" get configmaps default counter
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -ge 2000 ]; then echo "ok   waited ${ms} ms >= Retry-After"; else
    echo "FAIL waited only ${ms} ms"; FAILS=$((FAILS + 1)); fi

emu_stop
finish
