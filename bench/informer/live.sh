#!/usr/bin/env bash
# live.sh: list + watch of 10k pods from the API server emulator through
# informer_tool: time until the informer has synced, against the baseline of
# one plain `curl` of the same collection (the emulator's own cost of
# serving it), and the informer process's memory. Skips (exit 0) when the
# emulator cannot run here. Bounded: ~60 s.
set -u
cd "$(dirname "$0")/../.."
export MZ_ROOT="$PWD" MZ_BINDIR="${MZ_BINDIR:-bin}"
export MZ_WORK
MZ_WORK=$(mktemp -d /tmp/mizzen-bench-informer.XXXXXX)
N=${N:-10000}
PY=/usr/bin/python3
[ -x "$MZ_BINDIR/informer_tool" ] || { echo "live: no $MZ_BINDIR/informer_tool, skipped"; exit 0; }
"$PY" - "$MZ_WORK/state.json" "$N" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
objs, rv = [], 100
for k in range(20):
    rv += 1
    objs.append(["", "namespaces", {"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team-%02d" % k, "uid": "ns-%d" % k, "resourceVersion": str(rv),
                     "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}])
for i in range(n):
    rv += 1
    ns = "team-%02d" % (i % 20)
    objs.append(["", "pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "web-%d-x%05d" % (i % 20, i), "namespace": ns, "uid": "pod-uid-%08d" % i,
        "resourceVersion": str(rv), "creationTimestamp": "2024-05-01T10:00:00Z",
        "labels": {"app": "web-%d" % (i % 20), "pod-template-hash": "7d9f8c6b5", "version": "v1"},
        "annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'}},
        "spec": {"serviceAccountName": "web-%d" % (i % 20), "nodeName": "emulator-node",
                 "containers": [{"name": "web", "image": "nginx:1.25",
                                 "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                                 "env": [{"name": "E%d" % j, "value": "v%d" % j} for j in range(4)]},
                                {"name": "istio-proxy", "image": "proxyv2:1.22",
                                 "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"]}],
                 "restartPolicy": "Always", "terminationGracePeriodSeconds": 30},
        "status": {"phase": "Running", "podIP": "127.1.%d.%d" % ((i >> 8) & 255, i & 255),
                   "podIPs": [{"ip": "127.1.%d.%d" % ((i >> 8) & 255, i & 255)}],
                   "hostIP": "127.0.0.1", "startTime": "2024-05-01T10:00:01Z",
                   "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2024-05-01T10:00:05Z"}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]}}])
json.dump({"resourceVersion": rv, "objects": objs}, open(path, "w"))
PY
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
emu_start --state-file "$MZ_WORK/state.json" >/dev/null
t0=$(date +%s%N)
curl -sS --max-time 60 --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" \
    "$EMU_URL/api/v1/pods" -o "$MZ_WORK/all.json"
t1=$(date +%s%N)
count=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$MZ_WORK/all.json")
size=$(stat -c %s "$MZ_WORK/all.json")
base_ms=$(((t1 - t0) / 1000000))

t0=$(date +%s%N)
"$MZ_BINDIR/informer_tool" --kubeconfig "$EMU_KC" --resource pods --field ip=status.podIP \
    --field sa=spec.serviceAccountName --field bench=metadata.labels.bench >"$MZ_WORK/inf.out" 2>"$MZ_WORK/inf.err" &
IPID=$!
EXTRA_PIDS=$IPID
for _ in $(seq 1 600); do
    grep -q '"ev":"synced"' "$MZ_WORK/inf.out" && break
    sleep 0.1
done
t1=$(date +%s%N)
if ! grep -q '"ev":"synced"' "$MZ_WORK/inf.out"; then
    echo "live: not synced within 60 s"; exit 1
fi
sync_ms=$(((t1 - t0) / 1000000))
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$IPID/status")
# watch: 200 label patches of distinct pods must arrive as updates
t0=$(date +%s%N)
for i in $(seq 0 199); do
    printf '%s\n' "team-$(printf %02d $((i % 20)))/web-$((i % 20))-x$(printf %05d $i)"
done | while IFS=/ read -r ns name; do
    curl -sS --max-time 10 --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" \
        -H "Content-Type: application/merge-patch+json" -X PATCH \
        --data '{"metadata":{"labels":{"bench":"1"}}}' "$EMU_URL/api/v1/namespaces/$ns/pods/$name" >/dev/null
done
for _ in $(seq 1 100); do
    [ "$(grep -c '"ev":"update".*"bench":"1"' "$MZ_WORK/inf.out")" -ge 200 ] && break
    sleep 0.1
done
t1=$(date +%s%N)
updates=$(grep -c '"ev":"update".*"bench":"1"' "$MZ_WORK/inf.out")
other=$(grep -c '"ev":"update"' "$MZ_WORK/inf.out")
kill -USR1 "$IPID"
sleep 0.5
bytes=$(grep '"ev":"store"' "$MZ_WORK/inf.out" | tail -1 | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["stats"]["bytes"])')
echo "live: $count pods ($((size / count)) bytes of JSON each) from the emulator"
echo "  baseline: one curl of the whole collection          $base_ms ms"
echo "  informer: list (pages of 500) until synced           $sync_ms ms ($(awk -v a="$sync_ms" -v b="$base_ms" 'BEGIN {printf "%.2f", a / b}')x the baseline)"
echo "  informer process RSS after sync                      $((rss_kb / 1024)) MiB total; slim objects $((bytes / count)) bytes/pod"
echo "  watch: $updates of 200 pod patches delivered as updates in $(((t1 - t0) / 1000000)) ms (incl. 200 curl runs);"
echo "         $other updates in all (the emulator's kubelet also rewrites the loaded pods' status)"
kill -TERM "$IPID"
wait "$IPID"
EXTRA_PIDS=""
emu_stop >/dev/null
rm -rf "$MZ_WORK"
