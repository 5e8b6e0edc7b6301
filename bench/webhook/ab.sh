#!/usr/bin/env bash
# ab.sh: two mizzen-webhook binaries (say, before and after a change)
# measured alternately under the same load: wrk POSTs the bench's review
# over TLS keep-alive; per run it prints req/s, p99 and the server's CPU
# time per request (user+sys of the process over the run, which hardly
# depends on what else the machine does, unlike req/s). The order flips
# every round. With STRACE=1 (and strace installed) each binary also gets
# one extra run under `strace -c -f` and prints its system calls per
# request (strace slows it; the counts, not the speed, are the figure).
#
#   bench/webhook/ab.sh BIN_A BIN_B [ROUNDS] [DURATION] [CONNS]
#   (defaults 4 rounds, 5 s, 16 connections; at most 20 rounds of 60 s)
set -euo pipefail
A=${1:?usage: ab.sh BIN_A BIN_B [ROUNDS] [DURATION] [CONNS]}
B=${2:?usage: ab.sh BIN_A BIN_B [ROUNDS] [DURATION] [CONNS]}
R=${3:-4} D=${4:-5} C=${5:-16}
[[ "$R" =~ ^[0-9]+$ && "$R" -ge 1 && "$R" -le 20 ]] || { echo "ab: ROUNDS 1..20"; exit 2; }
[[ "$D" =~ ^[0-9]+$ && "$D" -ge 1 && "$D" -le 60 ]] || { echo "ab: DURATION 1..60"; exit 2; }
[[ "$C" =~ ^[0-9]+$ && "$C" -ge 1 && "$C" -le 256 ]] || { echo "ab: CONNS 1..256"; exit 2; }
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=/usr/bin/python3
T=$(mktemp -d /tmp/mizzen-ab.XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "ab: wrk missing (scripts/deps.sh)"; exit 1; }
"$ROOT/e2e/webhook/mkcert.sh" "$T/certs" srv >/dev/null
$PY "$ROOT/e2e/webhook/review.py" >"$T/review.json"
TCK=$(getconf CLK_TCK)

# start BIN: the webhook on a free port, ready (bounded wait)
start() {
    PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$1" --addr 127.0.0.1 --port "$PORT" --tls-cert "$T/certs/srv.crt" \
        --tls-key "$T/certs/srv.key" 2>/dev/null &
    PID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null --cacert "$T/certs/ca.crt" "https://127.0.0.1:$PORT/readyz" && return 0
        sleep 0.1
    done
    echo "ab: $1 did not become ready"
    exit 1
}
stop() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=""; }
ticks() { sed 's/^.*) //' "/proc/$PID/stat" | awk '{ print $12 + $13 }'; }
load() { # -> wrk's output
    BODY_FILE="$T/review.json" timeout -k 5 $((D + 30)) wrk -t2 -c"$C" -d"${D}s" \
        --latency -s "$ROOT/bench/webhook/post.lua" "https://127.0.0.1:$PORT/inject" 2>&1 || true
}

# run BIN: one measured run
run() {
    local t0 t1 out n
    start "$1"
    t0=$(ticks)
    out=$(load)
    t1=$(ticks)
    stop
    n=$(echo "$out" | awk '/requests in/ { print $1 }')
    [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "ab: no requests: $out"; exit 1; }
    printf '%-24s req/s %8s  p99 %8s  cpu_us/req %6.1f\n' "$(basename "$1")" \
        "$(echo "$out" | awk '/Requests\/sec/ { print $2 }')" \
        "$(echo "$out" | awk '$1 == "99%" { print $2 }')" \
        "$(echo "$t0 $t1 $n $TCK" | awk '{ print ($2 - $1) * 1e6 / $4 / $3 }')"
}

# syscalls BIN: system calls per request under strace -c -f
syscalls() {
    local n
    start "$1"
    timeout -k 5 $((D + 30)) strace -q -c -f -p "$PID" -o "$T/strace" &
    local spid=$!
    sleep 0.5
    n=$(load | awk '/requests in/ { print $1 }')
    kill -INT "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
    stop
    echo "$(basename "$1"): system calls per request ($n requests)"
    awk -v n="$n" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" && $4 / n >= 0.01 {
        printf "  %-16s %6.2f\n", $NF, $4 / n }' "$T/strace"
}

echo "ab: $R rounds of ${D}s at $C connections, alternating"
for r in $(seq 1 "$R"); do
    if [ $((r % 2)) = 1 ]; then run "$A"; run "$B"; else run "$B"; run "$A"; fi
done
if [ "${STRACE:-0}" = 1 ]; then
    if command -v strace >/dev/null; then
        syscalls "$A"
        syscalls "$B"
    else
        echo "ab: strace not installed: no system call counts"
    fi
fi
