#!/usr/bin/env bash
# t_lease.sh: lib/lease leader election between processes (tests/tools/
# lease_tool) against the API server emulator, default timings (lease 15 s,
# renew deadline 10 s, retry 2 s):
#   one leader among two candidates; the leader writes a ConfigMap with its
#   identity and term (leaseTransitions) while lease_is_leader();
#   leader SIGKILLed -> the standby leads within the lease duration (+ one
#   retry period of slack) and the ConfigMap's writer changes;
#   slow renew (the emulator delays PUTs on the Lease past the request
#   timeout) -> the leader stops leading within the renew deadline and stops
#   writing;
#   SIGTERM -> the leader releases the Lease and the standby takes over at once;
#   the ConfigMap's full write history (a watch via informer_tool) never
#   shows two writers in overlapping terms: terms never go back and each term
#   has one writer.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
LT="$MZ_BINDIR/lease_tool"
IT="$MZ_BINDIR/informer_tool"
[ -x "$LT" ] && [ -x "$IT" ] || { echo "missing tools in $MZ_BINDIR"; exit 1; }

emu_start
curl -sS --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" -H "Content-Type: application/json" \
    -X POST --data '{"metadata":{"name":"le"}}' "$EMU_URL/api/v1/namespaces" >/dev/null
fault() { emu_post /emulator/faults "$1" >/dev/null; }

# the history of the ConfigMap, from a watch
"$IT" --kubeconfig "$EMU_KC" --resource configmaps --namespace le --field holder=data.holder \
    --field term=data.term --field counter=data.counter >"$MZ_WORK/hist.out" 2>"$MZ_WORK/hist.err" &
HPID=$!
wait_for "history watcher synced" 20 grep -q '"ev":"synced"' "$MZ_WORK/hist.out"

start_cand() { # NAME
    "$LT" --kubeconfig "$EMU_KC" --namespace le --lease leader --configmap state --identity "$1" \
        --write-ms 250 >"$MZ_WORK/$1.out" 2>"$MZ_WORK/$1.err" &
    eval "PID_$1=$!"
}
started() { grep -q "\"ev\":\"started\",\"id\":\"$1\"" "$MZ_WORK/$1.out"; }
nstarted() { grep -c "\"ev\":\"started\"" "$MZ_WORK/$1.out"; }
ts_of() { # NAME EV [N]: unix ms of the N-th (default last) EV line
    grep "\"ev\":\"$2\"" "$MZ_WORK/$1.out" | sed -n "${3:-\$}p" | sed 's/.*"t":\([0-9]*\).*/\1/'
}
now_ms() { date +%s%3N; }

start_cand a
EXTRA_PIDS="$HPID $PID_a"
wait_for "a leads (creates the Lease)" 15 started a
start_cand b
EXTRA_PIDS="$HPID $PID_a $PID_b"
sleep 5
check "b stays standby while a renews" bash -c "! grep -q '\"ev\":\"started\"' '$MZ_WORK/b.out'"
check "a writes while leading" grep -q '"ev":"write","id":"a".*"ok":true' "$MZ_WORK/a.out"

echo "-- leader killed (SIGKILL)"
kill -KILL "$PID_a"
t_kill=$(now_ms)
wait "$PID_a" 2>/dev/null || true
wait_for "b leads after a is killed" 30 started b
t_b=$(ts_of b started)
d=$((t_b - t_kill))
echo "     b started leading $d ms after the kill (lease 15 s, retry 2 s)"
check "take-over within lease duration + retry period + 1 s slack (18 s)" test "$d" -le 18000
check "b took over no sooner than the lease allows (renewed <= 2 s before the kill)" test "$d" -ge 12000
wait_for "the ConfigMap's writer is now b" 10 bash -c \
    "curl -sS --cacert '$MZ_WORK/ca.crt' -H 'Authorization: Bearer $EMU_TOKEN' '$EMU_URL/api/v1/namespaces/le/configmaps/state' | grep -q '\"holder\": *\"b\"'"

echo "-- slow renew: Lease PUTs delayed 4 s (> the 2.5 s request timeout)"
start_cand c
EXTRA_PIDS="$HPID $PID_b $PID_c"
sleep 2
fault '{"action":"delay","delayMs":4000,"path":"/leases/leader$","methods":["PUT"]}'
t_fault=$(now_ms)
wait_for "b stops leading" 20 grep -q '"ev":"stopped","id":"b"' "$MZ_WORK/b.out"
t_stop=$(ts_of b stopped)
d=$((t_stop - t_fault))
echo "     b stopped $d ms after the fault (renew deadline 10 s from its last good renew)"
check "b stops within renew deadline + 1 s of the fault" test "$d" -le 11000
last_write=$(grep '"ev":"write","id":"b".*"ok":true' "$MZ_WORK/b.out" | tail -1 | sed 's/.*"t":\([0-9]*\).*/\1/')
check "b's last write was before it stopped" test "${last_write:-0}" -le "$t_stop"
sleep 1
n_writes=$(grep -c '"ev":"write","id":"b"' "$MZ_WORK/b.out")
sleep 2
check "b does not write after stopping" test "$(grep -c '"ev":"write","id":"b"' "$MZ_WORK/b.out")" -eq "$n_writes"
fault '{"action":"clear"}'
wait_for "someone leads again after the fault clears" 30 bash -c \
    "[ \$(grep -c '\"ev\":\"started\"' '$MZ_WORK/b.out' '$MZ_WORK/c.out' | awk -F: '{s+=\$2} END {print s}') -ge 2 ]"

echo "-- graceful stop releases the Lease"
sleep 1
if [ "$(grep -c '"ev":"stopped"' "$MZ_WORK/b.out")" -lt "$(nstarted b)" ]; then
    leader=b; other=c; lpid=$PID_b
else
    leader=c; other=b; lpid=$PID_c
fi
n_other=$(nstarted $other)
kill -TERM "$lpid"
t_term=$(now_ms)
rc=0
wait "$lpid" || rc=$?
expect_eq "$leader exits 0 on SIGTERM" 0 "$rc"
wait_for "$other leads soon after the release" 10 bash -c "[ \$(grep -c '\"ev\":\"started\"' '$MZ_WORK/$other.out') -gt $n_other ]"
t_o=$(ts_of $other started)
echo "     $other started leading $((t_o - t_term)) ms after $leader's SIGTERM"
check "release: take-over within 2 retry periods + 1 s (5 s)" test $((t_o - t_term)) -le 5000
sleep 2

echo "-- the write history"
kill -USR1 "$HPID"
sleep 0.5
cat >"$MZ_WORK/hist.py" <<'PY'
import json, sys
terms = {}
last = -1
bad = 0
n = 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("key") != "le/state" or d["ev"] not in ("add", "update"):
        continue
    f = d["f"]
    t, h = int(f["term"]), f["holder"]
    n += 1
    if t < last:
        print("term went back:", last, "->", t, "by", h); bad = 1
    last = max(last, t)
    if terms.setdefault(t, h) != h:
        print("term", t, "written by", terms[t], "and", h); bad = 1
print("writes seen:", n, "terms:", {k: terms[k] for k in sorted(terms)})
sys.exit(1 if bad or n < 10 or len(set(terms.values())) < 2 else 0)
PY
check "history: terms never go back, one writer per term, >= 2 writers" "$PY" "$MZ_WORK/hist.py" "$MZ_WORK/hist.out"
"$PY" "$MZ_WORK/hist.py" "$MZ_WORK/hist.out" | sed 's/^/     /'

for p in $HPID $PID_b $PID_c; do kill -TERM "$p" 2>/dev/null; done
for p in $HPID $PID_b $PID_c; do wait "$p" 2>/dev/null; done
EXTRA_PIDS=""
if grep -l "AddressSanitizer\|runtime error\|LeakSanitizer" "$MZ_WORK"/*.err 2>/dev/null | grep -v emu; then
    echo "FAIL sanitizer report"; FAILS=$((FAILS + 1))
fi
emu_stop
finish
