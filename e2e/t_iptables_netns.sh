#!/usr/bin/env bash
# t_iptables_netns.sh: mizzen-iptables in real network namespaces.
#
# Two namespaces made here, "pod" (10.250.0.1) and "peer" (10.250.0.2 and
# 10.251.0.2), joined by a veth pair. mizzen-iptables runs in "pod" with the
# injector's default args; small listeners report where each connection
# landed (listening port, SO_ORIGINAL_DST, local address). Checks: outbound
# from the app's uid lands on 15001, inbound to the pod's port on 15006,
# uid/gid 1337 and 127.0.0.6 pass, 15020/15021/15090 are not captured,
# --dry-run equals iptables-save, a second run leaves one copy, -o/-x
# exclusions, invalid flags apply nothing, backend choice (nft, then
# legacy once legacy holds the rules), and TPROXY delivery.
#
# Needs root and `ip netns`; without them it says SKIP and exits 0.
set -u

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: t_iptables_netns needs root (network namespaces, iptables)"
    exit 0
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIP: 'ip netns' is not available"
    exit 0
fi

ROOT="${MZ_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}"
BIN="${MZ_BINDIR:-bin}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
IPT="$BIN/mizzen-iptables"
WORK="${MZ_WORK:-$(mktemp -d /tmp/mizzen-ipt.XXXXXX)}"
PY=/usr/bin/python3
PROBE="$ROOT/e2e/iptables/ipt_probe.py"
POD="mzpod$$"
PEER="mzpeer$$"
VPOD="mzva$$"
VPEER="mzvb$$"
# The injector's default istio-init args (reference 2.2), argv as rendered.
DEFAULT_ARGS=(-p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*'
    -d 15090,15021,15020 --log_output_level=default:info)

[ -x "$IPT" ] || { echo "FAIL: $IPT not built"; exit 1; }

pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    ip netns del "$POD" 2>/dev/null
    ip netns del "$PEER" 2>/dev/null
}
trap cleanup EXIT

fails=0
pass() { echo "ok   $*"; }
fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}
# check DESC ACTUAL PATTERN: ACTUAL must match the extended regex PATTERN.
check() {
    if [[ "$2" =~ $3 ]]; then
        pass "$1"
    else
        fail "$1: got '$2', want /$3/"
    fi
}

inpod() { ip netns exec "$POD" "$@"; }
inpeer() { ip netns exec "$PEER" "$@"; }
# probe NS HOST PORT [--uid U] [--gid G] [--src IP]
probe() {
    local ns=$1
    shift
    ip netns exec "$ns" "$PY" "$PROBE" connect "$@"
}
run_ipt() { inpod "$IPT" "$@"; }

# norm: iptables-save or restore text -> comparable form: no comments, no
# built-in chain policies, counters zeroed, tables without content dropped.
norm() {
    "$PY" -c '
import re, sys
out, cur = [], None
for line in sys.stdin.read().splitlines():
    if not line or line.startswith("#"):
        continue
    if line.startswith("*"):
        cur = [line]
    elif line == "COMMIT":
        if cur and len(cur) > 1:
            out += cur + ["COMMIT"]
        cur = None
    elif line.startswith(":"):
        name, policy = line[1:].split()[:2]
        if policy == "-":
            cur.append(":%s - [0:0]" % name)
    else:
        cur.append(re.sub(r"\[\d+:\d+\] ", "", line))
print("\n".join(out))
'
}
save_nft() { inpod iptables-nft-save 2>/dev/null; }
save_legacy() { inpod iptables-legacy-save 2>/dev/null; }

start_listener() { # NS READYFILE ARGS...
    local ns=$1 ready=$2
    shift 2
    rm -f "$ready"
    ip netns exec "$ns" "$PY" "$PROBE" listen "$ready" "$@" \
        >>"$WORK/listeners.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 50); do
        [ -s "$ready" ] && return 0
        sleep 0.1
    done
    echo "FAIL listener $* did not start"
    cat "$WORK/listeners.log"
    exit 1
}

echo "== setup: namespaces $POD / $PEER"
ip netns add "$POD" || exit 1
ip netns add "$PEER" || exit 1
ip link add "$VPOD" type veth peer name "$VPEER" || exit 1
ip link set "$VPOD" netns "$POD"
ip link set "$VPEER" netns "$PEER"
inpod ip addr add 10.250.0.1/24 dev "$VPOD"
inpod ip link set "$VPOD" up
inpod ip link set lo up
inpod ip route add 10.251.0.0/24 dev "$VPOD"
inpeer ip addr add 10.250.0.2/24 dev "$VPEER"
inpeer ip addr add 10.251.0.2/24 dev "$VPEER"
inpeer ip link set "$VPEER" up
inpeer ip link set lo up
inpod ip -6 addr add fd00:250::1/64 dev "$VPOD" nodad
inpod ip -6 route add fd00:251::/64 dev "$VPOD"
inpeer ip -6 addr add fd00:250::2/64 dev "$VPEER" nodad
inpeer ip -6 addr add fd00:251::2/64 dev "$VPEER" nodad

start_listener "$POD" "$WORK/pod1.ready" 15001 15020 15021 15090 8080
start_listener "$POD" "$WORK/pod2.ready" 15006
pod2_pid=${pids[-1]}
start_listener "$PEER" "$WORK/peer.ready" 9000 5432
start_listener "$POD" "$WORK/pod6.ready" 15001 15006 8080 --v6
start_listener "$PEER" "$WORK/peer6.ready" 9000 --v6

echo "== before capture: direct paths work"
check "pod -> peer:9000 direct" "$(probe "$POD" 10.250.0.2 9000 --uid 1000)" \
    '^port=9000 '
check "peer -> pod:8080 direct" "$(probe "$PEER" 10.250.0.1 8080)" \
    '^port=8080 '

echo "== --dry-run with the injector's default args"
run_ipt "${DEFAULT_ARGS[@]}" --dry-run >"$WORK/dry1.txt" 2>"$WORK/dry1.err"
check "dry-run exit status" "$?" '^0$'
check "dry-run applies nothing" "$(save_nft | grep -c ISTIO)$(save_legacy |
    grep -c ISTIO)" '^00$'
check "dry-run prints the nat table" "$(head -1 "$WORK/dry1.txt")" '^\*nat$'

echo "== apply (auto backend)"
run_ipt "${DEFAULT_ARGS[@]}" 2>"$WORK/apply1.err"
check "apply exit status" "$?" '^0$'
check "auto backend on an empty namespace is nft" \
    "$(grep -o 'backend=[a-z]*' "$WORK/apply1.err" | head -1)" '^backend=nft$'
check "legacy tables untouched" "$(save_legacy | grep -c ISTIO)" '^0$'
save_nft | norm >"$WORK/save1.txt"
if diff -u <(norm <"$WORK/dry1.txt") "$WORK/save1.txt"; then
    pass "--dry-run output equals iptables-save"
else
    fail "--dry-run output differs from iptables-save (diff above)"
fi

echo "== outbound capture"
check "app uid 1000 -> peer:9000 lands on 15001" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" \
    '^port=15001 orig=10\.250\.0\.2:9000 '
check "uid 1337 -> peer:9000 goes direct" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1337 --gid 1000)" '^port=9000 '
check "gid 1337 -> peer:9000 goes direct" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1337)" '^port=9000 '
check "app -> 127.0.0.1:8080 not captured" \
    "$(probe "$POD" 127.0.0.1 8080 --uid 1000 --gid 1000)" '^port=8080 '
check "app -> own pod IP:8080 over lo not captured" \
    "$(probe "$POD" 10.250.0.1 8080 --uid 1000 --gid 1000)" '^port=8080 '
check "proxy -> own pod IP:8080 goes back through inbound (15006)" \
    "$(probe "$POD" 10.250.0.1 8080 --uid 1337 --gid 1337)" \
    '^port=15006 orig=10\.250\.0\.1:8080 '
check "proxy from 127.0.0.6 -> pod IP:8080 passes (inbound passthrough)" \
    "$(probe "$POD" 10.250.0.1 8080 --uid 1337 --gid 1337 --src 127.0.0.6)" \
    '^port=8080 .*from=127\.0\.0\.6$'

echo "== inbound capture"
check "peer -> pod:8080 lands on 15006" "$(probe "$PEER" 10.250.0.1 8080)" \
    '^port=15006 orig=10\.250\.0\.1:8080 '
for p in 15020 15021 15090; do
    check "peer -> pod:$p not captured" "$(probe "$PEER" 10.250.0.1 $p)" \
        "^port=$p "
done

echo "== idempotency: second run"
run_ipt "${DEFAULT_ARGS[@]}" 2>"$WORK/apply2.err"
check "second apply exit status" "$?" '^0$'
save_nft | norm >"$WORK/save2.txt"
if diff -u "$WORK/save1.txt" "$WORK/save2.txt"; then
    pass "second run leaves exactly the same rules"
else
    fail "second run changed the rules (diff above)"
fi
check "one OUTPUT jump" "$(grep -c -- '^-A OUTPUT -j ISTIO_OUTPUT$' \
    "$WORK/save2.txt")" '^1$'
check "one PREROUTING jump" "$(grep -c -- \
    '^-A PREROUTING -p tcp -j ISTIO_INBOUND$' "$WORK/save2.txt")" '^1$'
check "capture still works after the second run" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" '^port=15001 '

echo "== invalid flags apply nothing"
for bad in "-p abc" "-x *" "-m BOGUS" "-i 10.0.0.0/33" "--bogus-flag"; do
    # shellcheck disable=SC2086
    run_ipt "${DEFAULT_ARGS[@]}" $bad -o 5432 >/dev/null 2>"$WORK/bad.err"
    rc=$?
    flag=${bad%% *}
    check "'$bad' exits non-zero" "$rc" '^[1-9]'
    check "'$bad' message names the flag" "$(cat "$WORK/bad.err")" \
        "$(printf '%s' "$flag" | sed 's/[*]/\\*/g')"
    if save_nft | norm | diff -q - "$WORK/save1.txt" >/dev/null; then
        pass "'$bad' left the rules unchanged"
    else
        fail "'$bad' changed the rules"
    fi
done

echo "== second config: -o 5432 -x 10.251.0.0/24 replaces the first"
ARGS2=("${DEFAULT_ARGS[@]}" -o 5432 -x 10.251.0.0/24)
run_ipt "${ARGS2[@]}" --dry-run >"$WORK/dry2.txt"
run_ipt "${ARGS2[@]}" 2>"$WORK/apply3.err"
check "apply with -o/-x exit status" "$?" '^0$'
if diff -u <(norm <"$WORK/dry2.txt") <(save_nft | norm); then
    pass "--dry-run equals iptables-save for -o/-x"
else
    fail "--dry-run differs from iptables-save for -o/-x"
fi
check "excluded port 5432 goes direct" \
    "$(probe "$POD" 10.250.0.2 5432 --uid 1000 --gid 1000)" '^port=5432 '
check "excluded CIDR 10.251.0.0/24 goes direct" \
    "$(probe "$POD" 10.251.0.2 9000 --uid 1000 --gid 1000)" '^port=9000 '
check "other traffic still lands on 15001" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" \
    '^port=15001 orig=10\.250\.0\.2:9000 '
check "inbound still lands on 15006" "$(probe "$PEER" 10.250.0.1 8080)" \
    '^port=15006 '

echo "== -i with a CIDR list and -b with a port list"
run_ipt -i 10.251.0.0/24 -b 8080 -x "" 2>/dev/null
check "apply -i/-b lists" "$?" '^0$'
check "-i: 10.251.0.0/24 captured" \
    "$(probe "$POD" 10.251.0.2 9000 --uid 1000 --gid 1000)" \
    '^port=15001 orig=10\.251\.0\.2:9000 '
check "-i: 10.250.0.0/24 not captured" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" '^port=9000 '
check "-b 8080 captured" "$(probe "$PEER" 10.250.0.1 8080)" '^port=15006 '
check "-b: 15020 not in the list, not captured" \
    "$(probe "$PEER" 10.250.0.1 15020)" '^port=15020 '

echo "== IPv6: a v6 range in -x adds an ip6tables ruleset"
ARGS6=("${DEFAULT_ARGS[@]}" -x fd00:251::/64)
run_ipt "${ARGS6[@]}" --dry-run >"$WORK/dry6.txt"
run_ipt "${ARGS6[@]}" 2>"$WORK/apply6.err"
check "apply with a v6 range exit status" "$?" '^0$'
if diff -u <(sed '/^# ip6tables-restore$/,$d' "$WORK/dry6.txt" | norm) \
    <(save_nft | norm); then
    pass "v4 part of --dry-run equals iptables-save"
else
    fail "v4 part of --dry-run differs from iptables-save"
fi
if diff -u <(sed '1,/^# ip6tables-restore$/d' "$WORK/dry6.txt" | norm) \
    <(inpod ip6tables-nft-save | norm); then
    pass "v6 part of --dry-run equals ip6tables-save"
else
    fail "v6 part of --dry-run differs from ip6tables-save"
fi
check "v6 rules use ::6 and ::1" "$(grep -c -e '-s ::6/128 -o lo' \
    -e '-d ::1/128 -j RETURN' "$WORK/dry6.txt")" '^2$'
check "v6: app -> [fd00:250::2]:9000 lands on 15001" \
    "$(probe "$POD" fd00:250::2 9000 --uid 1000 --gid 1000)" \
    '^port=15001 orig=\[fd00:250::2\]:9000 '
check "v6: uid 1337 goes direct" \
    "$(probe "$POD" fd00:250::2 9000 --uid 1337 --gid 1337)" '^port=9000 '
check "v6: excluded range fd00:251::/64 goes direct" \
    "$(probe "$POD" fd00:251::2 9000 --uid 1000 --gid 1000)" '^port=9000 '
check "v6: peer -> [fd00:250::1]:8080 lands on 15006" \
    "$(probe "$PEER" fd00:250::1 8080)" '^port=15006 '
run_ipt "${ARGS6[@]}" 2>/dev/null
check "v6: second run leaves one copy" \
    "$(inpod ip6tables-nft-save | grep -c -- '^-A OUTPUT -j ISTIO_OUTPUT$')" \
    '^1$'
run_ipt "${DEFAULT_ARGS[@]}" 2>/dev/null
check "v4-only config removes our v6 rules" \
    "$(inpod ip6tables-nft-save | grep -c ISTIO)" '^0$'
check "v6 traffic direct again" \
    "$(probe "$POD" fd00:250::2 9000 --uid 1000 --gid 1000)" '^port=9000 '

echo "== --cleanup-only, then the legacy backend"
run_ipt --cleanup-only 2>/dev/null
check "cleanup-only exit status" "$?" '^0$'
check "no ISTIO rules left (nft)" "$(save_nft | grep -c ISTIO)" '^0$'
check "traffic direct after cleanup" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" '^port=9000 '
# The legacy backend needs the kernel's ip_tables; say so if it is absent.
if ! inpod iptables-legacy -t nat -S >/dev/null 2>&1; then
    echo "SKIP legacy backend part: iptables-legacy does not work here"
else
    run_ipt "${DEFAULT_ARGS[@]}" --iptables-backend legacy 2>/dev/null
    check "apply with --iptables-backend legacy" "$?" '^0$'
    run_ipt "${DEFAULT_ARGS[@]}" 2>"$WORK/apply4.err"
    check "auto picks legacy once legacy holds the rules" \
        "$(grep -o 'backend=[a-z]*' "$WORK/apply4.err" | head -1)" \
        '^backend=legacy$'
    check "nft still empty" "$(save_nft | grep -c ISTIO)" '^0$'
    if diff -u "$WORK/save1.txt" <(save_legacy | norm); then
        pass "legacy holds one copy, equal to the dry-run"
    else
        fail "legacy rules differ from the dry-run"
fi
check "legacy: app -> peer lands on 15001" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" '^port=15001 '
check "legacy: peer -> pod:8080 lands on 15006" \
    "$(probe "$PEER" 10.250.0.1 8080)" '^port=15006 '
run_ipt --cleanup-only --iptables-backend legacy 2>/dev/null
check "legacy cleanup" "$(save_legacy | grep -c ISTIO)" '^0$'
fi

echo "== TPROXY"
if ! printf '*mangle\n:MZ_PROBE - [0:0]\n-A MZ_PROBE -p tcp -j TPROXY --on-port 1 --tproxy-mark 0x1/0xffffffff\nCOMMIT\n' |
    inpod iptables-nft-restore --noflush --test >/dev/null 2>&1; then
    echo "SKIP TPROXY part: the kernel has no TPROXY target (xt_TPROXY)"
    echo "== $fails failure(s)"
    [ "$fails" -eq 0 ]
    exit
fi
kill "$pod2_pid"
wait "$pod2_pid" 2>/dev/null
start_listener "$POD" "$WORK/pod3.ready" 15006 --transparent
run_ipt "${DEFAULT_ARGS[@]}" -m TPROXY --dry-run >"$WORK/dry3.txt"
run_ipt "${DEFAULT_ARGS[@]}" -m TPROXY 2>"$WORK/apply5.err"
check "TPROXY apply exit status" "$?" '^0$'
if diff -u <(norm <"$WORK/dry3.txt") <(save_nft | norm); then
    pass "TPROXY --dry-run equals iptables-save (mangle and nat)"
else
    fail "TPROXY --dry-run differs from iptables-save"
fi
check "TPROXY policy rule" "$(inpod ip rule show | grep -c \
    'fwmark 0x539 lookup 133')" '^1$'
run_ipt "${DEFAULT_ARGS[@]}" -m TPROXY 2>/dev/null
check "TPROXY second run: still one policy rule" \
    "$(inpod ip rule show | grep -c 'fwmark 0x539 lookup 133')" '^1$'
check "TPROXY: peer -> pod:8080 lands on 15006 keeping the destination" \
    "$(probe "$PEER" 10.250.0.1 8080)" \
    '^port=15006 .*local=10\.250\.0\.1:8080 from=10\.250\.0\.2$'
check "TPROXY: peer -> pod:15021 not captured" \
    "$(probe "$PEER" 10.250.0.1 15021)" '^port=15021 '
check "TPROXY: app -> peer lands on 15001" \
    "$(probe "$POD" 10.250.0.2 9000 --uid 1000 --gid 1000)" '^port=15001 '

echo "== $fails failure(s)"
[ "$fails" -eq 0 ]
