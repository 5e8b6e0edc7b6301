# lib.sh: helpers shared by the mizzen-agent end-to-end tests
# (e2e/t_agent_*.sh). Source it; it expects MZ_BINDIR, MZ_WORK, MZ_ROOT.
#
# Everything lives in $MZ_WORK; ports are free loopback ports picked at
# random; every process started here is recorded in $MZ_WORK/pids and
# killed by PID on exit (agent_cleanup, installed as the EXIT trap).

PY=/usr/bin/python3
AGENT="$MZ_BINDIR/mizzen-agent"
FAKE_ENVOY="$MZ_ROOT/e2e/agent/fake_envoy.py"
EVLOG="$MZ_ROOT/e2e/agent/evlog.py"
: >"$MZ_WORK/pids"

fail() {
    echo "FAIL: $*"
    [ -f "$MZ_WORK/agent.log" ] && { echo "--- agent.log"; tail -n 40 "$MZ_WORK/agent.log"; }
    [ -f "$MZ_WORK/cfg/fake-envoy.log" ] && { echo "--- fake-envoy.log"; tail -n 30 "$MZ_WORK/cfg/fake-envoy.log"; }
    exit 1
}
ok() { echo "ok: $*"; }

remember() { echo "$1" >>"$MZ_WORK/pids"; }

agent_cleanup() {
    local p
    # the agent first (it stops its Envoys), then whatever is left
    [ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null
    sleep 0.2
    if [ -f "$MZ_WORK/cfg/fake-envoy.log" ]; then
        for p in $($PY "$EVLOG" "$MZ_WORK/cfg/fake-envoy.log" pids); do
            kill -KILL "$p" 2>/dev/null
        done
    fi
    for p in $(cat "$MZ_WORK/pids" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null
    done
    [ -n "${AGENT_PID:-}" ] && kill -KILL "$AGENT_PID" 2>/dev/null
    wait 2>/dev/null
    return 0
}
trap agent_cleanup EXIT

# free_ports N: N distinct free loopback TCP ports on one line
free_ports() {
    $PY - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_until() {
    local limit=$1 i=0
    shift
    while [ "$i" -lt $((limit * 10)) ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# http_code URL [curl args]: the status code (000 when no answer)
http_code() {
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url"
}

# ev ARGS: query the stand-in's event log (see evlog.py)
ev() { $PY "$EVLOG" "$MZ_WORK/cfg/fake-envoy.log" "$@"; }

# make_cert_set DIR NAME: a CA and a workload certificate (real PEM, made
# by openssl) in DIR: cert-chain.pem key.pem root-cert.pem
make_cert_set() {
    local d=$1 name=$2
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/ca.key" -out "$d/root-cert.pem" -days 2 \
        -subj "/O=mizzen-test/CN=root-$name" 2>/dev/null || return 1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/key.pem" -out "$d/req.csr" -subj "/O=mizzen-test" \
        2>/dev/null || return 1
    printf 'subjectAltName=URI:spiffe://cluster.local/ns/default/sa/%s\n' "$name" >"$d/ext"
    openssl x509 -req -in "$d/req.csr" -CA "$d/root-cert.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 1 -extfile "$d/ext" -out "$d/cert-chain.pem" \
        2>/dev/null || return 1
    rm -f "$d/req.csr" "$d/ext" "$d/ca.key" "$d/root-cert.srl"
}

# kubelet_publish CERTDIR SRC: publish the files of SRC into CERTDIR the way
# the kubelet's atomic writer updates a Secret volume: a new ..<ts> dir,
# a ..data_tmp symlink renamed over ..data, visible names are symlinks
# through ..data, the old ..<ts> dir removed last.
kubelet_publish() {
    local dir=$1 src=$2 ts old f
    ts="..$(date +%Y_%m_%d_%H_%M_%S).$$_$RANDOM$RANDOM"
    mkdir -p "$dir/$ts"
    cp "$src/cert-chain.pem" "$src/key.pem" "$src/root-cert.pem" "$dir/$ts/"
    old=$(readlink "$dir/..data" 2>/dev/null || true)
    ln -s "$ts" "$dir/..data_tmp"
    mv -T "$dir/..data_tmp" "$dir/..data"
    for f in cert-chain.pem key.pem root-cert.pem; do
        [ -L "$dir/$f" ] || ln -s "..data/$f" "$dir/$f"
    done
    [ -n "$old" ] && rm -rf "${dir:?}/$old"
    return 0
}

# start_agent ARGS...: run mizzen-agent proxy sidecar with the test layout
# (ports in STATUS_PORT ADMIN_PORT PROM_PORT READY_PORT), logs in
# $MZ_WORK/agent.log, pid in AGENT_PID
start_agent() {
    mkdir -p "$MZ_WORK/cfg"
    "$AGENT" proxy sidecar --domain default.svc.cluster.local \
        --proxyLogLevel=warning --proxyComponentLogLevel=misc:error \
        --log_output_level=default:info \
        --envoy-binary "$FAKE_ENVOY" --config-dir "$MZ_WORK/cfg" \
        --certs-dir "$MZ_WORK/certs" --pod-info-dir "$MZ_WORK/pod" \
        --status-port "$STATUS_PORT" --admin-port "$ADMIN_PORT" \
        --envoy-prometheus-port "$PROM_PORT" --envoy-status-port "$READY_PORT" \
        "$@" >>"$MZ_WORK/agent.log" 2>&1 &
    AGENT_PID=$!
}

# agent_ports: pick the four ports
agent_ports() {
    read -r STATUS_PORT ADMIN_PORT PROM_PORT READY_PORT <<<"$(free_ports 4)"
    export STATUS_PORT ADMIN_PORT PROM_PORT READY_PORT
}

# ready_via_envoy: 200 from the stand-in's 15021-style listener, which
# routes /healthz/ready to the agent (as the bootstrap says)
ready_via_envoy() { [ "$(http_code "http://127.0.0.1:$READY_PORT/healthz/ready")" = 200 ]; }

# alive PID
alive() { kill -0 "$1" 2>/dev/null; }

# exited PID: the process is gone or a zombie waiting to be reaped by us
exited() {
    [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# ev_eq WANT ARGS...: the evlog query ARGS prints WANT (for wait_until)
ev_eq() {
    local want=$1
    shift
    [ "$(ev "$@")" = "$want" ]
}
