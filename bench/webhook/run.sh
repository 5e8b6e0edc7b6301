#!/usr/bin/env bash
# run.sh: the webhook benchmark (see bench.mk). Prints req/s and p50/p99 at
# 1 and 16 connections for nginx (the baseline: what TLS keep-alive on this
# machine can do) and mizzen-webhook, the ratio mizzen/nginx, the latency of
# a 2000-env pod and the webhook's peak RSS, then the goals.
# Env: MZ_BINDIR (default bin), MZ_WORK (default a new temp dir), DURATION
# (seconds per run, default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${MZ_BINDIR:-bin}
WORK=${MZ_WORK:-$(mktemp -d /tmp/mizzen-bench.XXXXXX)}
T="$WORK/tmp"
DUR=${DURATION:-10}
PY=/usr/bin/python3
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

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$ROOT/e2e/webhook/mkcert.sh" "$T/certs" srv
$PY "$ROOT/e2e/webhook/review.py" >"$T/review.json"
$PY "$ROOT/e2e/webhook/review.py" --env 2000 --uid env2000 >"$T/review2000.json"

# --- mizzen-webhook
WH_PORT=$(free_port)
"$BIN/mizzen-webhook" --addr 127.0.0.1 --port "$WH_PORT" \
    --tls-cert "$T/certs/srv.crt" --tls-key "$T/certs/srv.key" \
    2>"$T/webhook.log" &
WH_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$T/certs/ca.crt" "https://127.0.0.1:$WH_PORT/readyz" && break
    sleep 0.1
done
curl -sS --cacert "$T/certs/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "@$T/review.json" -o "$T/response.json" \
    "https://127.0.0.1:$WH_PORT/inject"
grep -q '"patchType":"JSONPatch"' "$T/response.json" || { echo "bench-webhook: no injection in the sample answer"; exit 1; }
RESP_LEN=$(wc -c <"$T/response.json")

# --- nginx: same certificate, fixed answer of the same size
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
worker_processes 2;
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
        location / {
            default_type application/json;
$(nginx_body "$T/response.json")
        }
    }
}
CONF
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" 2>>"$T/nginx/error.log" &
NG_PID=$!
for _ in $(seq 1 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$NG_PORT/inject" && break
    sleep 0.1
done
NG_LEN=$(curl -sk -X POST -H 'Content-Type: application/json' --data-binary "@$T/review.json" "https://127.0.0.1:$NG_PORT/inject" | wc -c)

# wrk_run PORT CONNS BODY DURATION -> "reqs p50ms p99ms non2xx"
wrk_run() {
    local port=$1 c=$2 body=$3 d=$4 t=2 out
    [ "$c" -lt 2 ] && t=1
    out=$(BODY_FILE=$body wrk -t"$t" -c"$c" -d"${d}s" --latency \
        -s "$ROOT/bench/webhook/post.lua" "https://127.0.0.1:$port/inject" 2>&1)
    echo "$out" >>"$T/wrk.log"
    echo "$out" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }'
}

echo "bench-webhook: request $(wc -c <"$T/review.json") B (Deployment-made pod), response $RESP_LEN B (nginx: $NG_LEN B)," \
    "wrk ${DUR}s per run, TLS keep-alive, $(nproc) CPUs"
printf '%-8s %5s %10s %9s %9s %7s\n' server conns req/s p50_ms p99_ms non2xx
declare -A RPS P99
for c in 1 16; do
    for s in nginx mizzen; do
        port=$NG_PORT
        [ $s = mizzen ] && port=$WH_PORT
        read -r rps p50 p99 bad <<<"$(wrk_run "$port" "$c" "$T/review.json" "$DUR")"
        RPS[$s$c]=$rps
        P99[$s$c]=$p99
        printf '%-8s %5d %10d %9.3f %9.3f %7d\n' $s "$c" "$rps" "$p50" "$p99" "$bad"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
r1=$(ratio "${RPS[mizzen1]}" "${RPS[nginx1]}")
r16=$(ratio "${RPS[mizzen16]}" "${RPS[nginx16]}")
echo "ratio mizzen/nginx: 1 conn $r1, 16 conns $r16"

read -r rps p50 p99 bad <<<"$(wrk_run "$WH_PORT" 1 "$T/review2000.json" 5)"
echo "2000-env pod ($(wc -c <"$T/review2000.json") B), 1 conn, 5 s: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $bad"
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$WH_PID/status")
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$WH_PID/status")
echo "mizzen-webhook memory: peak RSS (VmHWM) $((hwm / 1024)) MiB ($hwm kB), now $rss kB"
dropped=$(curl -sS --cacert "$T/certs/ca.crt" "https://127.0.0.1:$WH_PORT/metrics" | awk '$1 == "mizzen_webhook_log_dropped_total" { print $2 }')
echo "log lines dropped under load: $dropped"

goal() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { ok = (op == ">=" ? v >= g : v <= g); printf "%s", ok ? "met" : "MISSED" }'; }
echo "goals: ratio>=0.5 @16: $(goal "$r16" '>=' 0.5); req/s>=15000 @16: $(goal "${RPS[mizzen16]}" '>=' 15000);" \
    "p99<=3ms @16: $(goal "${P99[mizzen16]}" '<=' 3); 2000-env p99<=5ms: $(goal "$p99" '<=' 5);" \
    "RSS<=16MiB: $(goal "$hwm" '<=' 16384)"
echo "(raw wrk output: $T/wrk.log)"
