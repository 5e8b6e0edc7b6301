#!/usr/bin/env bash
# t_kubewatch.sh: lib/kubewatch + lib/informer against the API server
# emulator, through tests/tools/informer_tool:
#   list + watch events (add/update/delete) for ConfigMaps;
#   dropped watches (clean EOF and connection reset) -> events go on, none lost;
#   a stalled stream (emulator freezes it) -> aborted after --idle-ms and
#     resumed from the last resourceVersion, missed events replayed;
#   compacted history while the stream is stalled -> 410 (in-stream ERROR and
#     HTTP 410) -> relist: synthetic delete for what vanished, store == server;
#   the event log replayed from nothing equals the server at the end.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
TOOL="$MZ_BINDIR/informer_tool"
[ -x "$TOOL" ] || { echo "missing $TOOL"; exit 1; }

emu_start --bookmark-interval 1
api() { # METHOD PATH [BODY] [CONTENT-TYPE]
    curl -sS --max-time 10 --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" \
        -H "Content-Type: ${4:-application/json}" -X "$1" ${3:+--data "$3"} "$EMU_URL$2"
}
cm_create() { api POST /api/v1/namespaces/w/configmaps "{\"metadata\":{\"name\":\"$1\"},\"data\":{\"v\":\"$2\"}}" >/dev/null; }
cm_patch() { api PATCH "/api/v1/namespaces/w/configmaps/$1" "{\"data\":{\"v\":\"$2\"}}" application/merge-patch+json >/dev/null; }
cm_delete() { api DELETE "/api/v1/namespaces/w/configmaps/$1" >/dev/null; }
fault() { emu_post /emulator/faults "$1" >/dev/null; }

api POST /api/v1/namespaces '{"metadata":{"name":"w"}}' >/dev/null
for i in 1 2 3 4 5; do cm_create pre$i $i; done

OUT="$MZ_WORK/inf.out"
"$TOOL" --kubeconfig "$EMU_KC" --resource configmaps --namespace w --field v=data.v \
    --idle-ms 2500 >"$OUT" 2>"$MZ_WORK/inf.err" &
IPID=$!
EXTRA_PIDS="$IPID"

# events.py: checks over the tool's output and the server
cat >"$MZ_WORK/ev.py" <<'PY'
import json, subprocess, sys, os
out, mode = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(out) if l.strip()]
def server():
    r = subprocess.run(["curl", "-sS", "--cacert", os.environ["CA"], "-H",
                        "Authorization: Bearer " + os.environ["TOK"],
                        os.environ["URL"] + "/api/v1/namespaces/w/configmaps"],
                       capture_output=True, text=True, check=True)
    d = json.loads(r.stdout)
    return {"w/" + i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in d["items"]}
if mode == "has":          # has KEY V: an add/update event with data v == V
    key, v = sys.argv[3], sys.argv[4]
    sys.exit(0 if any(l.get("key") == key and l["ev"] in ("add", "update")
                      and l.get("f", {}).get("v") == v for l in lines) else 1)
if mode == "deleted":      # deleted KEY [unknown]
    key = sys.argv[3]; unk = len(sys.argv) > 4
    sys.exit(0 if any(l.get("key") == key and l["ev"] == "delete" and
                      (not unk or l.get("unknown")) for l in lines) else 1)
if mode == "replay":       # events replayed from nothing == server
    st = {}
    for l in lines:
        if l["ev"] in ("add", "update"): st[l["key"]] = l["rv"]
        elif l["ev"] == "delete": st.pop(l["key"], None)
    srv = server()
    if st != srv:
        print("replayed", st); print("server  ", srv); sys.exit(1)
    sys.exit(0)
if mode == "store":        # the last store dump == server
    dumps = [l for l in lines if l["ev"] == "store"]
    if not dumps: sys.exit(1)
    srv = server()
    if dumps[-1]["objects"] != srv:
        print("store ", dumps[-1]["objects"]); print("server", srv); sys.exit(1)
    sys.exit(0)
if mode == "stat":         # stat NAME MIN: last dump's stats[NAME] >= MIN
    dumps = [l for l in lines if l["ev"] == "store"]
    v = dumps[-1]["stats"][sys.argv[3]] if dumps else -1
    print(sys.argv[3], v)
    sys.exit(0 if v >= int(sys.argv[4]) else 1)
if mode == "dumps":
    print(sum(1 for l in lines if l["ev"] == "store")); sys.exit(0)
PY
export CA="$MZ_WORK/ca.crt" TOK="$EMU_TOKEN" URL="$EMU_URL"
ev() { "$PY" "$MZ_WORK/ev.py" "$OUT" "$@"; }
dump() { # ask for a store dump and wait for it
    local n
    n=$(ev dumps)
    kill -USR1 "$IPID"
    for _ in $(seq 1 50); do
        [ "$(ev dumps)" -gt "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

wait_for "initial list delivered (synced, 5 adds)" 20 grep -q '"ev":"synced"' "$OUT"
check "initial objects seen" ev has w/pre5 5

cm_create a 1; cm_patch a 2; cm_create b 1; cm_delete pre1
wait_for "watch: add/update/delete delivered" 10 ev deleted w/pre1
check "watch: update carries the new data" ev has w/a 2

echo "-- dropped watches (clean EOF)"
fault '{"action":"drop-watches","mode":"eof"}'
cm_patch a 3; cm_create c 1; cm_delete pre2
wait_for "events continue after EOF" 10 ev deleted w/pre2
check "update after EOF seen" ev has w/a 3

echo "-- dropped watches (connection reset)"
fault '{"action":"drop-watches","mode":"reset"}'
cm_patch a 4; cm_create d 1; cm_delete pre3
wait_for "events continue after a reset" 15 ev deleted w/pre3
check "update after reset seen" ev has w/a 4
check "create after reset seen" ev has w/d 1

echo "-- stalled stream (frozen by the emulator; idle timeout 2.5 s)"
fault '{"action":"freeze-watches","seconds":30}'
sleep 0.3
t0=$SECONDS
cm_patch a 5; cm_create e 1; cm_delete pre4
wait_for "events missed during the stall arrive after the re-watch" 15 ev deleted w/pre4
echo "     (after $((SECONDS - t0)) s; the freeze lasts 30 s)"
check "stalled: update replayed" ev has w/a 5
dump
check "stall was detected" ev stat stalls 1
check "no relist for a stall (history kept)" ev stat relists 0
fault '{"action":"clear"}'

echo "-- compacted history while stalled -> in-stream ERROR 410 -> relist"
fault '{"action":"freeze-watches","seconds":30}'
sleep 0.3
cm_patch a 6; cm_create f 1; cm_delete pre5; cm_delete b
fault '{"action":"compact"}'
wait_for "relist delivers a synthetic delete for b" 20 ev deleted w/b unknown
check "relist: synthetic delete for pre5" ev deleted w/pre5 unknown
check "relist: new object f" ev has w/f 1
check "relist: update of a" ev has w/a 6
dump
check "store == server after the relist" ev store
check "one relist" ev stat relists 1
check "one 410 seen by the loop" ev stat gone 1
fault '{"action":"clear"}'

echo "-- the same with HTTP 410"
fault '{"action":"gone-mode","mode":"http"}'
fault '{"action":"freeze-watches","seconds":30}'
sleep 0.3
cm_patch a 7; cm_create g 1; cm_delete c
fault '{"action":"compact"}'
wait_for "HTTP 410: relist delivers the delete of c" 20 ev deleted w/c unknown
check "HTTP 410: g seen" ev has w/g 1
fault '{"action":"clear"}'
fault '{"action":"gone-mode","mode":"event"}'

echo "-- after all that: more events, no loss"
for i in $(seq 1 20); do cm_create z$i $i; done
cm_patch z7 x
wait_for "late burst delivered" 15 ev has w/z7 x
check "every late create seen" bash -c 'for i in $(seq 1 20); do "$0" "$1" "$2" has w/z$i $i || exit 1; done' "$PY" "$MZ_WORK/ev.py" "$OUT"
dump
check "store == server at the end" ev store
check "event log replayed == server" ev replay

kill -TERM "$IPID"
rc=0
wait "$IPID" || rc=$?
EXTRA_PIDS=""
expect_eq "informer_tool exits 0 on SIGTERM" 0 "$rc"
if grep -q "ERROR: AddressSanitizer\|runtime error" "$MZ_WORK/inf.err"; then
    echo "FAIL sanitizer report"; FAILS=$((FAILS + 1)); tail -30 "$MZ_WORK/inf.err"
fi
emu_stop
finish
