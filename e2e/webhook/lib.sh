# lib.sh: helpers for e2e/t_webhook*.sh (sourced). Needs MZ_BINDIR, MZ_WORK,
# MZ_ROOT. Every process started here is stopped by PID on exit.
set -euo pipefail
PY=/usr/bin/python3
WHD="$MZ_ROOT/e2e/webhook"
WH="$MZ_BINDIR/mizzen-webhook"
CERTS="$MZ_WORK/certs"
WH_PID=""
WH_LOG="$MZ_WORK/webhook.log"
PIDS=()

cleanup() {
    local p
    for p in ${WH_PID:-} "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- webhook log (tail)"
    tail -n 30 "$WH_LOG" 2>/dev/null || true
    exit 1
}
say() { echo "check: $*"; }

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wh_start ARGS...: starts the webhook on 127.0.0.1:$WH_PORT with ARGS and
# waits (bounded) until /healthz answers. Sets WH_PID and WH_PORT.
wh_start() {
    WH_PORT=$(free_port)
    "$WH" --addr 127.0.0.1 --port "$WH_PORT" "$@" 2>>"$WH_LOG" &
    WH_PID=$!
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null --cacert "$CERTS/ca.crt" \
            "https://127.0.0.1:$WH_PORT/healthz" 2>/dev/null; then
            return 0
        fi
        kill -0 "$WH_PID" 2>/dev/null || fail "webhook exited at start"
        sleep 0.1
    done
    fail "webhook did not answer /healthz within 10 s"
}

# wh_stop: SIGTERM, then waits (bounded) and checks the exit status is 0.
wh_stop() {
    local i rc=0
    kill -TERM "$WH_PID" 2>/dev/null || true
    for i in $(seq 1 150); do
        kill -0 "$WH_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$WH_PID" 2>/dev/null && fail "webhook still running 15 s after SIGTERM"
    wait "$WH_PID" || rc=$?
    WH_PID=""
    [ "$rc" -eq 0 ] || fail "webhook exited with status $rc after SIGTERM"
}

# curl_wh [curl args...] PATH: HTTPS request to the webhook, body to
# $MZ_WORK/resp, prints the HTTP status.
curl_wh() {
    local path=${*: -1}
    local args=("${@:1:$#-1}")
    curl -sS --max-time 20 --cacert "$CERTS/ca.crt" -o "$MZ_WORK/resp" \
        -w '%{http_code}' "${args[@]}" "https://127.0.0.1:$WH_PORT$path"
}

# post PATH FILE [CONTENT-TYPE]: POSTs FILE, prints the HTTP status.
post() {
    curl_wh -H "Content-Type: ${3:-application/json}" --data-binary "@$2" "$1"
}

# review NAME ARGS...: writes $MZ_WORK/NAME.json with review.py ARGS.
review() {
    local name=$1
    shift
    $PY "$WHD/review.py" "$@" >"$MZ_WORK/$name.json"
}

# admit NAME EXPECT [ARG] [PATH]: posts NAME.json to PATH (/inject) and runs
# check.py on the answer.
admit() {
    local name=$1 expect=$2 arg=${3:-} path=${4:-/inject} code
    code=$(post "$path" "$MZ_WORK/$name.json")
    [ "$code" = 200 ] || fail "$name: HTTP $code: $(cat "$MZ_WORK/resp")"
    cp "$MZ_WORK/resp" "$MZ_WORK/$name.resp"
    $PY "$WHD/check.py" "$MZ_WORK/$name.json" "$MZ_WORK/$name.resp" \
        "$expect" $arg || fail "$name: answer does not match ($expect)"
}

# expect_code WANT GOT WHAT
expect_code() {
    [ "$1" = "$2" ] || fail "$3: HTTP $2, want $1 (body: $(head -c 300 "$MZ_WORK/resp"))"
    echo "ok: $3 -> $2"
}

# metric NAME_WITH_LABELS: prints the value from /metrics.
metric() {
    curl -sS --cacert "$CERTS/ca.crt" "https://127.0.0.1:$WH_PORT/metrics" |
        awk -v m="$1" '$1 == m { print $2 }'
}

# wait_for DESC 'CONDITION': evaluates the shell CONDITION (a string, so
# command substitutions in it run again on every try) for up to 15 s.
wait_for() {
    local desc=$1 i
    shift
    for i in $(seq 1 150); do
        if eval "$*" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    fail "timed out waiting for: $desc"
}

# serial_of: the serial of the certificate a new TLS handshake sees.
serial_of() {
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$WH_PORT" \
        -CAfile "$CERTS/ca.crt" 2>/dev/null | openssl x509 -noout -serial
}

# kube_volume DIR NAME=SRC...: lays out DIR as the kubelet does for a
# mounted Secret/ConfigMap (DIR/NAME -> ..data/NAME, ..data -> ..<stamp>)
# or, when DIR exists, swaps the content atomically by renaming a new
# ..data symlink over the old one, then removes the old timestamped dir.
KV_SEQ=0
kube_volume() {
    local dir=$1 kv name src old=""
    shift
    KV_SEQ=$((KV_SEQ + 1))
    local stamp="..$(date +%Y_%m_%d_%H_%M_%S).$$.$KV_SEQ"
    mkdir -p "$dir/$stamp"
    for kv in "$@"; do
        name=${kv%%=*}
        src=${kv#*=}
        cp "$src" "$dir/$stamp/$name"
    done
    [ -L "$dir/..data" ] && old=$(readlink "$dir/..data")
    ln -s "$stamp" "$dir/..data_tmp"
    mv -T "$dir/..data_tmp" "$dir/..data"
    for kv in "$@"; do
        name=${kv%%=*}
        [ -L "$dir/$name" ] || ln -s "..data/$name" "$dir/$name"
    done
    [ -n "$old" ] && rm -rf "${dir:?}/$old"
    return 0
}

# inject_image PATH: posts $MZ_WORK/v1.json and prints istio-proxy's image.
inject_image() {
    post "${1:-/inject}" "$MZ_WORK/v1.json" >/dev/null
    $PY - "$MZ_WORK/resp" <<'PYEOF'
import base64, json, sys
r = json.load(open(sys.argv[1]))["response"]
ops = json.loads(base64.b64decode(r.get("patch", "")) or "[]")
imgs = [json.dumps(op) for op in ops if "istio-proxy" in json.dumps(op)]
import re
m = [re.search(r'"image": "([^"]*proxyv2[^"]*)"', s) for s in imgs]
print(next((x.group(1) for x in m if x), "none"))
PYEOF
}
