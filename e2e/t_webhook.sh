#!/usr/bin/env bash
# t_webhook.sh: mizzen-webhook over real HTTPS (curl, openssl s_client):
# injection (v1, v1beta1, path parameters, namespace from the request),
# non-injection, refusal, not-a-pod, UPDATE, every bad request, health,
# readiness, metrics, TLS versions, keep-alive, graceful SIGTERM.
source "$MZ_ROOT/e2e/webhook/lib.sh"

"$WHD/mkcert.sh" "$CERTS" srv
wh_start --tls-cert "$CERTS/srv.crt" --tls-key "$CERTS/srv.key"

say "/healthz, /readyz"
expect_code 200 "$(curl_wh /healthz)" "GET /healthz"
expect_code 200 "$(curl_wh /readyz)" "GET /readyz"
grep -qx ok "$MZ_WORK/resp" || fail "/readyz body"

say "injection, admission.k8s.io/v1, ReplicaSet-made pod (generateName)"
review v1 --api v1
admit v1 injected
grep -q 'msg=admission uid=d595ee3c-3c3a-4f53-a5d5-0f2f6b1b7b7a ns=team-a pod=web-7d4b9c7f8d- op=CREATE decision=injected' "$WH_LOG" ||
    wait_for "admission log line" 'grep -q decision=injected "$WH_LOG"'
grep 'msg=admission' "$WH_LOG" | grep -q 'ms=' || fail "log line lacks duration"
grep -q 'nginx:1.25\|kube-root-ca' "$WH_LOG" && fail "log contains the pod body"
echo "ok: one log line per admission (uid, ns, pod, decision, ms), no body"

say "injection, admission.k8s.io/v1beta1 answered in v1beta1"
review v1beta1 --api v1beta1 --uid beta-uid-1
admit v1beta1 injected

say "namespace from request.namespace when the pod has none"
review nons --pod-ns "" --ns team-b --uid nons-1
admit nons injected
$PY - "$MZ_WORK/nons.resp" <<'PYEOF' || fail "the injected proxy does not name namespace team-b"
import base64, json, sys
ops = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["response"]["patch"]))
assert "team-b" in json.dumps(ops), "team-b not in patch"
print("ok: patch refers to team-b")
PYEOF

say "path parameters: /inject/cluster/c1/net/n1 and --slash--"
review pathp --uid path-1
admit pathp env ISTIO_META_CLUSTER_ID=c1 /inject/cluster/c1/net/n1
admit pathp env ISTIO_META_NETWORK=n1 /inject/cluster/c1/net/n1
admit pathp env ISTIO_META_NETWORK=a/b /inject/net/a--slash--b/
expect_code 400 "$(post /inject/bad%20key/x "$MZ_WORK/pathp.json")" "invalid path parameter name"

say "not injected: label false, hostNetwork, kube-system"
review off --label sidecar.istio.io/inject=false --uid off-1
admit off allowed
review hostnet --host-network --uid hostnet-1
admit hostnet allowed
review kubesys --ns kube-system --pod-ns kube-system --uid kubesys-1
admit kubesys allowed

say "refused: invalid annotation"
review bad --annotation traffic.sidecar.istio.io/includeInboundPorts=bad --uid bad-1
admit bad refused traffic.sidecar.istio.io/includeInboundPorts
wait_for "refusal log line" 'grep -q "uid=bad-1 .*decision=refused" "$WH_LOG"'

say "not a pod, not CREATE"
review deploy --kind Deployment --uid deploy-1
admit deploy allowed
review upd --op UPDATE --uid upd-1
admit upd allowed
review del --op DELETE --no-object --uid del-1
admit del allowed
review noobj --no-object --uid noobj-1
admit noobj refused request.object

say "bad requests"
expect_code 415 "$(post /inject "$MZ_WORK/v1.json" text/plain)" "wrong Content-Type"
wait_for "415 log line" 'grep -q "admission rejected\" code=415" "$WH_LOG"'
expect_code 415 "$(post /inject "$MZ_WORK/v1.json" 'application/json; charset=utf-8')" "Content-Type with parameters (exact match, as istiod)"
expect_code 400 "$(curl_wh -X POST -H 'Content-Type: application/json' /inject)" "empty body"
grep -q "no body found" "$MZ_WORK/resp" || fail "empty body message"
printf '{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionRev' >"$MZ_WORK/trunc.json"
expect_code 400 "$(post /inject "$MZ_WORK/trunc.json")" "malformed JSON"
grep -q "could not decode AdmissionReview" "$MZ_WORK/resp" || fail "malformed message"
echo '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}' >"$MZ_WORK/nouid.json"
expect_code 400 "$(post /inject "$MZ_WORK/nouid.json")" "missing request.uid"
grep -q "uid" "$MZ_WORK/resp" || fail "missing uid message"
echo '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' >"$MZ_WORK/noreq.json"
expect_code 400 "$(post /inject "$MZ_WORK/noreq.json")" "missing request"
echo '{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"x"}}' >"$MZ_WORK/v2.json"
expect_code 400 "$(post /inject "$MZ_WORK/v2.json")" "unsupported apiVersion"
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$MZ_WORK/big.json"
expect_code 413 "$(post /inject "$MZ_WORK/big.json")" "9 MiB body (Content-Length)"
expect_code 413 "$(curl_wh -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$MZ_WORK/big.json" /inject)" "9 MiB chunked body"
expect_code 404 "$(curl_wh /nope)" "unknown path"
expect_code 404 "$(post /injectx "$MZ_WORK/v1.json")" "/injectx"
code=$(curl -sS --cacert "$CERTS/ca.crt" -D "$MZ_WORK/hdr" -o "$MZ_WORK/resp" -w '%{http_code}' "https://127.0.0.1:$WH_PORT/inject")
expect_code 405 "$code" "GET /inject"
grep -qi '^Allow: POST' "$MZ_WORK/hdr" || fail "405 without Allow: POST"
code=$(curl -sS --cacert "$CERTS/ca.crt" -D "$MZ_WORK/hdr" -o "$MZ_WORK/resp" -w '%{http_code}' -X DELETE "https://127.0.0.1:$WH_PORT/healthz")
expect_code 405 "$code" "DELETE /healthz"
grep -qi '^Allow: GET' "$MZ_WORK/hdr" || fail "405 without Allow: GET"
say "still serving after the bad requests"
admit v1 injected

say "keep-alive: several requests on one connection"
n=$(curl -sS -v --cacert "$CERTS/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "@$MZ_WORK/v1.json" "https://127.0.0.1:$WH_PORT/inject" \
    --next --cacert "$CERTS/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "@$MZ_WORK/v1.json" "https://127.0.0.1:$WH_PORT/inject" \
    -o /dev/null 2>&1 | grep -c 'Re-using existing connection' || true)
[ "$n" -ge 1 ] || fail "second request did not reuse the connection"
echo "ok: connection re-used"
n=$(curl -sS -v --cacert "$CERTS/ca.crt" "https://127.0.0.1:$WH_PORT/healthz" \
    "https://127.0.0.1:$WH_PORT/metrics" "https://127.0.0.1:$WH_PORT/nope" \
    "https://127.0.0.1:$WH_PORT/readyz" -o /dev/null -o /dev/null -o /dev/null \
    -o /dev/null 2>&1 | grep -c 'Re-using existing connection' || true)
[ "$n" -eq 3 ] || fail "GET endpoints and a 404 closed the connection ($n re-uses of 3)"
n=$(curl -sS -v --cacert "$CERTS/ca.crt" -H 'Content-Type: text/plain' \
    --data-binary "@$MZ_WORK/v1.json" "https://127.0.0.1:$WH_PORT/inject" -o /dev/null \
    --next --cacert "$CERTS/ca.crt" "https://127.0.0.1:$WH_PORT/healthz" \
    -o /dev/null 2>&1 | grep -c 'Re-using existing connection' || true)
[ "$n" -eq 1 ] || fail "a 415 answer closed the connection"
echo "ok: GET endpoints, 404 and 415 keep the connection alive"

say "TLS: 1.2 and 1.3 accepted, 1.1 and 1.0 refused, no CBC"
for v in tls1_2 tls1_3; do
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$WH_PORT" -$v \
        -CAfile "$CERTS/ca.crt" 2>/dev/null | grep -q 'Verify return code: 0' ||
        fail "$v handshake failed"
    echo "ok: $v handshake"
done
for v in tls1_1 tls1; do
    out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$WH_PORT" -$v \
        -cipher 'DEFAULT:@SECLEVEL=0' 2>&1 || true)
    echo "$out" | grep -q 'Cipher is (NONE)\|alert\|no protocols available' ||
        fail "$v was not refused: $(echo "$out" | grep -E 'Protocol|Cipher')"
    echo "ok: $v refused"
done
out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$WH_PORT" -tls1_2 \
    -cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA' 2>&1 || true)
echo "$out" | grep -q 'Cipher is (NONE)\|alert' || fail "CBC cipher accepted"
echo "ok: CBC suites refused"

say "/metrics"
expect_code 200 "$(curl_wh /metrics)" "GET /metrics"
for m in 'mizzen_webhook_requests_total{code="415"}' \
    'mizzen_webhook_requests_total{code="413"}' \
    'mizzen_webhook_requests_total{code="404"}' \
    'mizzen_webhook_requests_total{code="405"}' \
    'mizzen_webhook_admissions_total{decision="injected"}' \
    'mizzen_webhook_admissions_total{decision="refused"}' \
    'mizzen_webhook_admissions_total{decision="skipped"}' \
    'mizzen_webhook_admissions_total{decision="ignored"}' \
    'mizzen_webhook_reloads_total{kind="cert",result="ok"}' \
    'mizzen_webhook_request_duration_seconds_count' \
    'sidecar_injection_success_total'; do
    v=$(metric "$m")
    [ -n "$v" ] && [ "$v" -ge 1 ] 2>/dev/null || fail "metric $m = '$v', want >= 1"
    echo "ok: $m = $v"
done
v=$(metric 'mizzen_webhook_admissions_total{decision="injected"}')
[ "$v" -ge 8 ] || fail "injected count $v, want >= 8"
[ -n "$(metric mizzen_webhook_log_dropped_total)" ] || fail "no log_dropped metric"
# every JSON value of every admission above was freed before its request
# arena ended (lib/mem.h)
[ "$(metric mizzen_webhook_arena_leaks_total)" = 0 ] ||
    fail "request arena leaks: $(metric mizzen_webhook_arena_leaks_total)"
curl -sS --cacert "$CERTS/ca.crt" "https://127.0.0.1:$WH_PORT/metrics" | grep -q '^# TYPE mizzen_webhook_request_duration_seconds histogram' ||
    fail "no histogram TYPE line"

say "--help documents every flag"
"$WH" --help >"$MZ_WORK/help"
for f in --port --addr --tls-cert --tls-key --injector-config --injector-config-dir \
    --mesh-config --max-body --log-format --log-level MIZZEN_WEBHOOK_PORT; do
    grep -q -- "$f" "$MZ_WORK/help" || fail "--help lacks $f"
done
"$WH" --no-such-flag >/dev/null 2>&1 && fail "unknown flag accepted"
echo "ok: --help, unknown flag refused"

say "graceful SIGTERM: a request in flight completes, then exit 0"
mkdir -p "$MZ_WORK/inflight"
$PY "$WHD/client.py" "$WH_PORT" "$CERTS/ca.crt" "$MZ_WORK/v1.json" \
    "$MZ_WORK/inflight" inflight >"$MZ_WORK/inflight.out" 2>&1 &
cpid=$!
PIDS+=($cpid)
wait_for "client sent half a request" 'test -e "$MZ_WORK/inflight/ready"'
kill -TERM "$WH_PID"
sleep 0.5
kill -0 "$WH_PID" 2>/dev/null || fail "exited with a request in flight"
curl -s -o /dev/null --max-time 3 --cacert "$CERTS/ca.crt" "https://127.0.0.1:$WH_PORT/healthz" &&
    fail "new connections still accepted after SIGTERM"
echo "ok: new connections refused while the request is in flight"
touch "$MZ_WORK/inflight/go"
wait "$cpid" || fail "in-flight request failed: $(cat "$MZ_WORK/inflight.out")"
grep -q 'status 200' "$MZ_WORK/inflight.out" || fail "in-flight: $(cat "$MZ_WORK/inflight.out")"
echo "ok: in-flight request answered 200 after SIGTERM"
wh_stop
echo "ok: exit status 0"
grep -q 'msg="shutting down" signal=SIGTERM' "$WH_LOG" || fail "no shutdown log line"
grep -q 'msg=stopped' "$WH_LOG" || fail "no stopped log line"
curl -s -o /dev/null --max-time 3 --cacert "$CERTS/ca.crt" "https://127.0.0.1:$WH_PORT/healthz" &&
    fail "still answering after exit"
echo "PASS"
