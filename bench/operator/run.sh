#!/usr/bin/env bash
# bench/operator: mizzen-operator's start-to-issued time for N ServiceAccounts
# (default 1000) in one injection-enabled namespace, against the emulator, and
# its peak RSS. Baseline in the same run: the emulator storing the same number
# of Secrets itself (bulk-create, no HTTP per object): the floor of any writer.
# Env: MZ_BINDIR (default bin), N (1..5000). Loops are bounded (120 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
export MZ_ROOT=$PWD MZ_BINDIR=${MZ_BINDIR:-bin}
export MZ_WORK=${MZ_WORK:-$(mktemp -d /tmp/mizzen-bench-op.XXXXXX)}
N=${N:-1000}
[ "$N" -ge 1 ] && [ "$N" -le 5000 ] || { echo "N must be 1..5000"; exit 2; }
. e2e/apiserver/testlib.sh
emu_start >/dev/null
K=(kubectl --cache-dir "$MZ_WORK/kcache")
"${K[@]}" create namespace istio-system >/dev/null
"${K[@]}" apply --validate=false -f manifests/istio-mesh.yaml >/dev/null
"${K[@]}" create namespace bench >/dev/null
"${K[@]}" label namespace bench istio-injection=enabled >/dev/null
"${K[@]}" create namespace floor >/dev/null

now_ms() { date +%s%3N; }
count_secrets() { # ns prefix
    curl -sS --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" \
        "$EMU_URL/api/v1/namespaces/$1/secrets" |
        $PY -c 'import json,sys; p=sys.argv[1]; print(sum(1 for i in json.load(sys.stdin)["items"] if i["metadata"]["name"].startswith(p)))' "$2"
}

t0=$(now_ms)
emu_post /emulator/faults "{\"action\":\"bulk-create\",\"namespace\":\"floor\",\"count\":$((N + 1)),\"namePrefix\":\"istio.f\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"istio.io/key-and-cert\",\"data\":{\"cert-chain.pem\":\"$(head -c 700 /dev/urandom | base64 -w0)\",\"key.pem\":\"$(head -c 240 /dev/urandom | base64 -w0)\"}}}" >/dev/null
floor_ms=$(($(now_ms) - t0))
[ "$(count_secrets floor istio.)" -eq $((N + 1)) ] || { echo "baseline bulk-create failed"; exit 1; }

emu_post /emulator/faults "{\"action\":\"bulk-create\",\"namespace\":\"bench\",\"count\":$N,\"namePrefix\":\"sa-\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\"}}" >/dev/null

t0=$(now_ms)
"$MZ_BINDIR/mizzen-operator" --kubeconfig "$EMU_KC" --namespace istio-system \
    >"$MZ_WORK/operator.log" 2>&1 &
OP=$!
EXTRA_PIDS="$OP"
want=$((N + 1)) got=0
for _ in $(seq 1 600); do
    got=$(count_secrets bench istio.)
    [ "$got" -ge "$want" ] && break
    sleep 0.2
done
op_ms=$(($(now_ms) - t0))
rss=$(awk '/VmHWM/ {print $2}' /proc/$OP/status)
kill -TERM "$OP"; wait "$OP" || true
[ "$got" -ge "$want" ] || { echo "only $got of $want Secrets after 120 s"; exit 1; }
echo "bench/operator: $N ServiceAccounts (+ default) in one enabled namespace"
echo "  operator start -> $want Secrets issued and stored   $op_ms ms"
echo "  baseline: emulator stores $want Secrets in-process  $floor_ms ms"
echo "  ratio operator/baseline                         $(awk "BEGIN{printf \"%.1f\", $op_ms/($floor_ms>0?$floor_ms:1)}")x"
echo "  operator peak RSS (VmHWM)                       $((rss / 1024)) MiB ($rss kB)"
