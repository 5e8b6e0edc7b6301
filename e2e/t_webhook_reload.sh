#!/usr/bin/env bash
# t_webhook_reload.sh: mizzen-webhook reloads its files. Certificate and
# config live in kubelet-style volumes (..data symlink swap); with the
# periodic check set to 60 s only inotify can see the swaps in time.
# Checks: a new handshake sees the new certificate while an open keep-alive
# connection keeps working; a bad certificate and a bad config are refused
# (log line, metric) and the last good ones stay; a config change shows in
# the next injection; not ready until a valid config appears (plain files,
# periodic check).
source "$MZ_ROOT/e2e/webhook/lib.sh"

"$WHD/mkcert.sh" "$CERTS" srv1
"$WHD/mkcert.sh" "$CERTS" srv2
"$WHD/mkcert.sh" "$CERTS" srv3
serial1=$(openssl x509 -in "$CERTS/srv1.crt" -noout -serial)
serial2=$(openssl x509 -in "$CERTS/srv2.crt" -noout -serial)
serial3=$(openssl x509 -in "$CERTS/srv3.crt" -noout -serial)

TLS="$MZ_WORK/vol/tls" CFG="$MZ_WORK/vol/inject" MESH="$MZ_WORK/vol/mesh"
cat >"$MZ_WORK/config1" <<'YAML'
policy: enabled
defaultTemplates: [sidecar]
YAML
values() { printf '{"global": {"hub": "%s", "tag": "%s"}}\n' "$1" "$2" >"$MZ_WORK/values.$3"; }
values registry.one/mesh v1 1
values registry.two/mesh v2 2
printf 'global: [unclosed\n' >"$MZ_WORK/values.bad"
printf 'defaultConfig:\n  discoveryAddress: xds-one.example:15012\n' >"$MZ_WORK/mesh1"

kube_volume "$TLS" tls.crt="$CERTS/srv1.crt" tls.key="$CERTS/srv1.key"
kube_volume "$CFG" config="$MZ_WORK/config1" values="$MZ_WORK/values.1"
kube_volume "$MESH" mesh="$MZ_WORK/mesh1"

wh_start --tls-cert "$TLS/tls.crt" --tls-key "$TLS/tls.key" \
    --injector-config-dir "$CFG" --mesh-config "$MESH" \
    --reload-interval 60s --drain-timeout 30s
review v1 --uid reload-1

say "config from the mounted volumes"
img=$(inject_image)
[ "$img" = "registry.one/mesh/proxyv2:v1" ] || fail "image $img, want registry.one/mesh/proxyv2:v1"
echo "ok: image $img"
grep -q 'xds-one.example' <(base64 -d <<<"$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["response"]["patch"])' "$MZ_WORK/resp")") ||
    fail "mesh config (discoveryAddress) not used"
echo "ok: mesh config from the volume is used"
[ "$(serial_of)" = "$serial1" ] || fail "serving $(serial_of), want $serial1"
echo "ok: serving srv1 ($serial1)"

say "certificate rotation: keep-alive connection opened on srv1"
mkdir -p "$MZ_WORK/ka"
$PY "$WHD/client.py" "$WH_PORT" "$CERTS/ca.crt" "$MZ_WORK/v1.json" "$MZ_WORK/ka" \
    keepalive >"$MZ_WORK/ka.out" 2>&1 &
kpid=$!
PIDS+=($kpid)
wait_for "keep-alive client's first request" 'test -e "$MZ_WORK/ka/ready"'
grep -q "serial1 ${serial1#serial=} status1 200" "$MZ_WORK/ka.out" ||
    fail "first request: $(cat "$MZ_WORK/ka.out")"
kube_volume "$TLS" tls.crt="$CERTS/srv2.crt" tls.key="$CERTS/srv2.key"
t0=$(date +%s%N)
wait_for "a new handshake sees srv2" 'test "$(serial_of)" = "$serial2"'
echo "ok: new handshake sees srv2 ($serial2) after $((($(date +%s%N) - t0) / 1000000)) ms"
touch "$MZ_WORK/ka/go"
wait "$kpid" || fail "keep-alive connection broke: $(cat "$MZ_WORK/ka.out")"
grep -q "status2 200 serial2 ${serial1#serial=}" "$MZ_WORK/ka.out" ||
    fail "second request on the old connection: $(cat "$MZ_WORK/ka.out")"
echo "ok: the open connection kept working on srv1: $(tr '\n' ' ' <"$MZ_WORK/ka.out")"
[ "$(metric 'mizzen_webhook_reloads_total{kind="cert",result="ok"}')" = 2 ] ||
    fail "cert reloads ok = $(metric 'mizzen_webhook_reloads_total{kind="cert",result="ok"}'), want 2"
admit v1 injected

say "bad certificate (key of another certificate) refused, srv2 stays"
kube_volume "$TLS" tls.crt="$CERTS/srv3.crt" tls.key="$CERTS/srv1.key"
wait_for "refusal logged" 'grep -q "new certificate refused" "$WH_LOG"'
[ "$(metric 'mizzen_webhook_reloads_total{kind="cert",result="failed"}')" = 1 ] ||
    fail "cert reloads failed metric"
[ "$(serial_of)" = "$serial2" ] || fail "serving $(serial_of) after a bad cert"
admit v1 injected
echo "ok: still serving srv2, injection works"
say "garbage certificate refused too"
echo garbage >"$MZ_WORK/garbage.pem"
kube_volume "$TLS" tls.crt="$MZ_WORK/garbage.pem" tls.key="$MZ_WORK/garbage.pem"
wait_for "second refusal" 'test "$(metric "mizzen_webhook_reloads_total{kind=\"cert\",result=\"failed\"}")" = 2'
[ "$(serial_of)" = "$serial2" ] || fail "serving $(serial_of) after garbage"
say "then a good one is taken"
kube_volume "$TLS" tls.crt="$CERTS/srv3.crt" tls.key="$CERTS/srv3.key"
wait_for "srv3 served" 'test "$(serial_of)" = "$serial3"'
echo "ok: srv3 ($serial3)"

say "config reload: new values -> new image"
kube_volume "$CFG" config="$MZ_WORK/config1" values="$MZ_WORK/values.2"
wait_for "registry.two image" 'test "$(inject_image)" = registry.two/mesh/proxyv2:v2'
echo "ok: image $(inject_image)"

say "bad config refused, the last good one stays in force"
kube_volume "$CFG" config="$MZ_WORK/config1" values="$MZ_WORK/values.bad"
wait_for "config refusal logged" 'grep -q "new injector configuration refused" "$WH_LOG"'
grep 'new injector configuration refused' "$WH_LOG" | grep -q "$CFG" ||
    fail "refusal log line does not name the config"
img=$(inject_image)
[ "$img" = "registry.two/mesh/proxyv2:v2" ] || fail "image $img after bad config"
[ "$(metric 'mizzen_webhook_reloads_total{kind="config",result="failed"}')" -ge 1 ] ||
    fail "config reload failure not counted"
expect_code 200 "$(curl_wh /readyz)" "/readyz with the last good config"
echo "ok: still injecting $img"
wh_stop
grep -q 'key.pem\|BEGIN PRIVATE\|BEGIN EC' "$WH_LOG" && fail "key material in the log"

say "plain files, periodic check only: not ready until the config is valid"
printf 'kind: ConfigMap\napiVersion: v1\ndata:\n  values: "{\\"global\\": [1\n' >"$MZ_WORK/cm.yaml"
wh_start --tls-cert "$CERTS/srv1.crt" --tls-key "$CERTS/srv1.key" \
    --injector-config "$MZ_WORK/cm.yaml" --reload-interval 500ms
expect_code 503 "$(curl_wh /readyz)" "/readyz with an invalid config"
expect_code 503 "$(post /inject "$MZ_WORK/v1.json")" "/inject with no config"
cp "$MZ_ROOT/manifests/istio-sidecar-injector.yaml" "$MZ_WORK/cm.orig"
hub=$($PY -c 'import json,sys,yaml; print(json.loads(yaml.safe_load(open(sys.argv[1]))["data"]["values"])["global"]["hub"])' "$MZ_WORK/cm.orig")
sed -e "s#\"$hub\"#\"registry.three/x\"#" "$MZ_WORK/cm.orig" >"$MZ_WORK/cm.new"
grep -q registry.three "$MZ_WORK/cm.new" || fail "could not set the hub in the shipped ConfigMap"
mv "$MZ_WORK/cm.new" "$MZ_WORK/cm.yaml"
wait_for "ready after a valid config" 'test "$(curl_wh /readyz)" = 200'
img=$(inject_image)
[ "${img%%/*}" = registry.three ] || fail "image $img from the ConfigMap object"
echo "ok: ready; image $img"
say "in-place rewrite of a plain file is seen too"
sed -e "s#\"$hub\"#\"registry.four/x\"#" "$MZ_WORK/cm.orig" >"$MZ_WORK/cm.yaml"
wait_for "registry.four image" 'test "$(inject_image | cut -d/ -f1)" = registry.four'
echo "ok: $(inject_image)"
wh_stop
echo PASS
