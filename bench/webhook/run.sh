#!/usr/bin/env bash
# run.sh: the webhook benchmark (see bench.mk). nginx (the baseline: what TLS
# keep-alive on this machine can do, returning a fixed answer of the same
# size) and mizzen-webhook are measured ALTERNATELY in the same invocation,
# both pinned with taskset to the same CPUs (wrk on its own CPU when there
# are 3 or more), for ROUNDS rounds whose order flips every round, so that
# load from other work on a shared machine hits both sides alike. Per run:
# req/s, p50/p99 and the server's CPU time per request (user+sys of its
# processes: unlike req/s it hardly depends on what else runs). Then the
# medians over the rounds, the median of the per-round ratios
# mizzen/nginx, GET /healthz for both (the HTTP+TLS layer alone), the
# latency of a 2000-env pod, the webhook's peak RSS and the goals. The load
# average is printed at the start, before every round and at the end.
#
# Env: MZ_BINDIR (default bin), MZ_WORK (default a new temp dir), DURATION
# (seconds per run, 1..120, default 10), ROUNDS (1..20, default 3),
# HEALTHZ (1: also GET /healthz, default 1), SERVER_CPUS / WRK_CPUS
# (taskset lists; default: wrk on the last CPU and the servers on the
# others when there are >= 3 CPUs, else all share all CPUs),
# BENCH_ADMISSION (path of bench_admission: in-process figures too).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${MZ_BINDIR:-bin}
WORK=${MZ_WORK:-$(mktemp -d /tmp/mizzen-bench.XXXXXX)}
T="$WORK/tmp"
DUR=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
HEALTHZ=${HEALTHZ:-1}
PY=/usr/bin/python3
[[ "$DUR" =~ ^[0-9]+$ ]] && [ "$DUR" -ge 1 ] && [ "$DUR" -le 120 ] || { echo "bench-webhook: DURATION must be 1..120"; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || { echo "bench-webhook: ROUNDS must be 1..20"; exit 2; }
mkdir -p "$T"
WH_PID="" NG_PID=""
cleanup() {
    [ -n "$WH_PID" ] && kill -TERM "$WH_PID" 2>/dev/null || true
    [ -n "$NG_PID" ] && kill -QUIT "$NG_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "bench-webhook: wrk missing (scripts/deps.sh)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench-webhook: nginx missing (scripts/deps.sh)"; exit 1; }

# --- CPU placement
NCPU=$(nproc)
if [ -z "${SERVER_CPUS:-}" ]; then
    if [ "$NCPU" -ge 3 ]; then
        SERVER_CPUS="0-$((NCPU - 2))" WRK_CPUS=${WRK_CPUS:-$((NCPU - 1))}
    else
        SERVER_CPUS="0-$((NCPU - 1))" WRK_CPUS=${WRK_CPUS:-$SERVER_CPUS}
    fi
fi
WRK_CPUS=${WRK_CPUS:-$SERVER_CPUS}
PIN_SRV=() PIN_WRK=()
if command -v taskset >/dev/null; then
    PIN_SRV=(taskset -c "$SERVER_CPUS") PIN_WRK=(taskset -c "$WRK_CPUS")
    NSRV=$("${PIN_SRV[@]}" nproc)
else
    echo "bench-webhook: taskset missing: nothing is pinned"
    NSRV=$NCPU
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# cpu_ticks PID...: user+sys clock ticks of these processes
cpu_ticks() {
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$t"
}
TCK=$(getconf CLK_TCK)

"$ROOT/e2e/webhook/mkcert.sh" "$T/certs" srv
$PY "$ROOT/e2e/webhook/review.py" >"$T/review.json"
$PY "$ROOT/e2e/webhook/review.py" --env 2000 --uid env2000 >"$T/review2000.json"

# --- mizzen-webhook: one worker thread per server CPU
WH_PORT=$(free_port)
"${PIN_SRV[@]}" "$BIN/mizzen-webhook" --addr 127.0.0.1 --port "$WH_PORT" \
    --threads "$NSRV" --tls-cert "$T/certs/srv.crt" --tls-key "$T/certs/srv.key" \
    2>"$T/webhook.log" &
WH_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$T/certs/ca.crt" "https://127.0.0.1:$WH_PORT/readyz" && break
    sleep 0.1
done
curl -sS --max-time 10 --cacert "$T/certs/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "@$T/review.json" -o "$T/response.json" \
    "https://127.0.0.1:$WH_PORT/inject"
grep -q '"patchType":"JSONPatch"' "$T/response.json" || { echo "bench-webhook: no injection in the sample answer"; exit 1; }
RESP_LEN=$(wc -c <"$T/response.json")

# --- nginx: same certificate, same CPUs, one worker per server CPU, a
# fixed answer of the same size
NG_PORT=$(free_port)
mkdir -p "$T/nginx"
# nginx_body FILE: "set" lines holding FILE in pieces (nginx caps a config
# token at 4 KiB) and a "return 200" of their concatenation. The body is
# JSON + base64: no quote or "$" that nginx would interpret.
nginx_body() {
    $PY - "$1" <<'PYEOF'
import sys
b = open(sys.argv[1]).read()
assert "'" not in b and "$" not in b
parts = [b[i:i + 3000] for i in range(0, len(b), 3000)]
for i, p in enumerate(parts):
    print("            set $p%d '%s';" % (i, p))
print('            return 200 "%s";' % "".join("$p%d" % i for i in range(len(parts))))
PYEOF
}
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes $NSRV;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$NG_PORT ssl;
        ssl_certificate $T/certs/srv.crt;
        ssl_certificate_key $T/certs/srv.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 10m;
        location = /healthz {
            default_type text/plain;
            return 200 "ok\n";
        }
        location / {
            default_type application/json;
$(nginx_body "$T/response.json")
        }
    }
}
CONF
"${PIN_SRV[@]}" "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" 2>>"$T/nginx/error.log" &
NG_PID=$!
for _ in $(seq 1 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$NG_PORT/healthz" && break
    sleep 0.1
done
NG_LEN=$(curl -sk --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary "@$T/review.json" "https://127.0.0.1:$NG_PORT/inject" | wc -c)
NG_PIDS=("$NG_PID" $(ps --ppid "$NG_PID" -o pid= || true))

# wrk_run PORT PATH CONNS BODY|- DURATION -> "reqs p50ms p99ms non2xx"
wrk_run() {
    local port=$1 path=$2 c=$3 body=$4 d=$5 t=2 out script=()
    [ "$c" -lt 2 ] && t=1
    [ "$body" != - ] && script=(-s "$ROOT/bench/webhook/post.lua")
    out=$(BODY_FILE=$body timeout -k 5 $((d + 30)) "${PIN_WRK[@]}" wrk -t"$t" -c"$c" \
        -d"${d}s" --latency "${script[@]}" "https://127.0.0.1:$port$path" 2>&1) || true
    echo "$out" >>"$T/wrk.log"
    echo "$out" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }'
}

# measure SERVER TEST CONNS ROUND: one run, recorded in $T/runs
measure() {
    local s=$1 test=$2 c=$3 r=$4 port path body t0 t1 rps p50 p99 bad cpu
    local -a pids
    if [ "$s" = nginx ]; then port=$NG_PORT pids=("${NG_PIDS[@]}"); else port=$WH_PORT pids=("$WH_PID"); fi
    if [ "$test" = inject ]; then path=/inject body=$T/review.json; else path=/healthz body=-; fi
    t0=$(cpu_ticks "${pids[@]}")
    read -r rps p50 p99 bad <<<"$(wrk_run "$port" "$path" "$c" "$body" "$DUR")"
    t1=$(cpu_ticks "${pids[@]}")
    cpu=$(awk -v d=$((t1 - t0)) -v h="$TCK" -v n="$rps" -v s="$DUR" \
        'BEGIN { printf "%.0f", (n > 0 ? d / h * 1e6 / (n * s) : 0) }')
    printf '%-5d %-8s %-7s %5d %10d %9.3f %9.3f %7d %12d\n' "$r" "$s" "$test" "$c" \
        "$rps" "$p50" "$p99" "$bad" "$cpu"
    echo "$r $s $test $c $rps $p50 $p99 $bad $cpu" >>"$T/runs"
}

echo "bench-webhook: request $(wc -c <"$T/review.json") B (Deployment-made pod), response $RESP_LEN B (nginx: $NG_LEN B)"
echo "wrk ${DUR}s per run, TLS keep-alive, $ROUNDS rounds alternating nginx/mizzen; $NCPU CPUs:" \
    "servers on CPUs $SERVER_CPUS ($NSRV workers each), wrk on CPUs $WRK_CPUS"
echo "load average at start: $(loadavg)"
TESTS="inject"
[ "$HEALTHZ" = 1 ] && TESTS="inject healthz"
: >"$T/runs"
printf '%-5s %-8s %-7s %5s %10s %9s %9s %7s %12s\n' round server test conns req/s p50_ms p99_ms non2xx srv_cpu_us/req
for r in $(seq 1 "$ROUNDS"); do
    echo "# round $r: load average $(loadavg)"
    order="nginx mizzen"
    [ $((r % 2)) = 0 ] && order="mizzen nginx"
    for test in $TESTS; do
        for c in 1 16; do
            for s in $order; do
                measure "$s" "$test" "$c" "$r"
            done
        done
    done
done

# medians over rounds, and the median of the per-round ratios
summary() {
    awk -v test="$1" -v c="$2" '
        function med(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        $3 == test && $4 == c { k = $2; n[k]++; rps[k, n[k]] = $5; p99[k, n[k]] = $7; cpu[k, n[k]] = $9; byr[k, $1] = $5 }
        END {
            for (k in n) { for (i = 1; i <= n[k]; i++) { a[i] = rps[k, i]; b[i] = p99[k, i]; e[i] = cpu[k, i] }
                R[k] = med(a, n[k]); P[k] = med(b, n[k]); C[k] = med(e, n[k]) }
            m = 0; for (r = 1; r <= n["nginx"]; r++) if (byr["nginx", r] > 0) { q[++m] = byr["mizzen", r] / byr["nginx", r] }
            printf "%s %d %.0f %.3f %.0f %.0f %.3f %.0f %.2f %.2f\n", test, c, R["nginx"], P["nginx"], C["nginx"],
                R["mizzen"], P["mizzen"], C["mizzen"], (m ? med(q, m) : 0), (C["mizzen"] > 0 ? C["nginx"] / C["mizzen"] : 0) }' "$T/runs"
}
echo "medians over $ROUNDS rounds (ratio = median of per-round mizzen/nginx req/s; cpu ratio = nginx/mizzen CPU per request):"
printf '%-8s %5s %10s %9s %8s %10s %9s %8s %6s %9s\n' test conns nginx_r/s p99_ms cpu_us mizzen_r/s p99_ms cpu_us ratio cpu_ratio
declare -A RPS P99 RAT
for test in $TESTS; do
    for c in 1 16; do
        read -r _ _ nr np nc mr mp mc q cq <<<"$(summary "$test" "$c")"
        printf '%-8s %5d %10d %9.3f %8d %10d %9.3f %8d %6.2f %9.2f\n' "$test" "$c" "$nr" "$np" "$nc" "$mr" "$mp" "$mc" "$q" "$cq"
        RPS[$test$c]=$mr P99[$test$c]=$mp RAT[$test$c]=$q
    done
done

read -r rps p50 p99 bad <<<"$(wrk_run "$WH_PORT" /inject 1 "$T/review2000.json" 5)"
echo "2000-env pod ($(wc -c <"$T/review2000.json") B), 1 conn, 5 s: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $bad"
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$WH_PID/status")
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$WH_PID/status")
echo "mizzen-webhook memory: peak RSS (VmHWM) $((hwm / 1024)) MiB ($hwm kB), now $rss kB"
dropped=$(curl -sS --max-time 10 --cacert "$T/certs/ca.crt" "https://127.0.0.1:$WH_PORT/metrics" | awk '$1 == "mizzen_webhook_log_dropped_total" { print $2 }')
echo "log lines dropped under load: $dropped"
if [ -n "${BENCH_ADMISSION:-}" ] && [ -x "$BENCH_ADMISSION" ]; then
    echo "in-process (bench_admission, thread CPU time):"
    # with the request arena (as the server) and without it (baseline)
    for m in "" malloc; do
        "${PIN_SRV[@]}" timeout 120 "$BENCH_ADMISSION" "$T/review.json" 2000 $m | sed 's/^/  /'
        "${PIN_SRV[@]}" timeout 120 "$BENCH_ADMISSION" "$T/review2000.json" 50 $m | sed 's/^/  /'
    done
fi

goal() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { ok = (op == ">=" ? v >= g : v <= g); printf "%s", ok ? "met" : "MISSED" }'; }
echo "goals: ratio>=0.5 @16: $(goal "${RAT[inject16]}" '>=' 0.5); req/s>=15000 @16: $(goal "${RPS[inject16]}" '>=' 15000);" \
    "p99<=3ms @16: $(goal "${P99[inject16]}" '<=' 3); 2000-env p99<=5ms: $(goal "$p99" '<=' 5);" \
    "RSS<=16MiB: $(goal "$hwm" '<=' 16384)"
echo "load average at end: $(loadavg)"
echo "(raw wrk output: $T/wrk.log; runs: $T/runs)"
