#!/usr/bin/env bash
# t_operator_ha.sh: two operator replicas (different API users) against one
# emulator with an access log: both keep their caches (reads), only the
# Lease holder writes Secrets/ConfigMaps/the MWC; killing the leader hands
# over and the new leader writes.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
. "$MZ_ROOT/e2e/operator/oplib.sh"

emu_start --bookmark-interval 1 --access-log "$MZ_WORK/access.log"
op_user op-a
op_user op-b
op_setup
"${K[@]}" create namespace app1 >/dev/null
"${K[@]}" label namespace app1 istio-injection=enabled >/dev/null
"${K[@]}" -n app1 create serviceaccount alpha >/dev/null

has() { "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
logged() { grep -q "$2" "$MZ_WORK/$1.log"; }
# writes: user -> count of create/update/patch/delete outside Leases
writes() {
    $PY - "$MZ_WORK/access.log" "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("user") == sys.argv[2] and e["verb"] in ("create", "update", "patch", "delete") \
            and "/leases" not in e["path"]:
        n += 1
print(n)
PY
}
reads() {
    $PY - "$MZ_WORK/access.log" "$1" <<'PY'
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("user") == sys.argv[2]
          and json.loads(l)["verb"] in ("list", "watch")))
PY
}

OP_KC="$MZ_WORK/kc-op-a" op_start A
wait_for "A leads" 20 logged A 'msg="started leading"'
OP_KC="$MZ_WORK/kc-op-b" op_start B
wait_for "B synced its caches (standby)" 20 logged B 'msg="caches synced"'
wait_for "istio.alpha issued" 20 has app1 secret istio.alpha
"${K[@]}" -n app1 create serviceaccount beta >/dev/null
wait_for "istio.beta issued" 20 has app1 secret istio.beta
"${K[@]}" -n app1 delete secret istio.alpha >/dev/null
wait_for "istio.alpha re-created" 20 has app1 secret istio.alpha
sleep 1
wa=$(writes op-a) wb=$(writes op-b)
echo "  writes so far: op-a=$wa op-b=$wb; lists/watches op-b=$(reads op-b)"
check "the leader (A) wrote" [ "$wa" -ge 5 ]
expect_eq "the standby (B) wrote nothing" 0 "$wb"
check "the standby keeps its caches warm (lists + watches)" [ "$(reads op-b)" -ge 6 ]
check "B did not lead" sh -c "! grep -q 'msg=\"started leading\"' '$MZ_WORK/B.log'"

kill -KILL "$OP_PID_A"
wait "$OP_PID_A" 2>/dev/null
t0=$SECONDS
wait_for "killing the leader hands over to B" 20 logged B 'msg="started leading"'
echo "  hand-over after $((SECONDS - t0)) s (lease 8 s)"
"${K[@]}" -n app1 create serviceaccount gamma >/dev/null
wait_for "the new leader issues istio.gamma" 20 has app1 secret istio.gamma
check "istio.gamma verifies" verify_secret app1 istio.gamma
check "B wrote after the hand-over" [ "$(writes op-b)" -ge 1 ]
check "B's writes all came after A died" $PY - "$MZ_WORK/access.log" <<'PY'
import json, sys
last_a = max(e["ts"] for e in map(json.loads, open(sys.argv[1])) if e.get("user") == "op-a")
first_b = min(e["ts"] for e in map(json.loads, open(sys.argv[1]))
              if e.get("user") == "op-b" and e["verb"] in ("create", "update", "patch", "delete")
              and "/leases" not in e["path"])
print(last_a, first_b)
sys.exit(0 if first_b > last_a else 1)
PY
op_stop B
rbac_check op-a op-b
emu_stop
finish
