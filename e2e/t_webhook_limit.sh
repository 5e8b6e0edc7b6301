#!/usr/bin/env bash
# t_webhook_limit.sh: --max-connections under pressure. Connections over
# the limit are refused at once, the ones inside keep being served, and
# the webhook never wedges: libmicrohttpd 0.9.75 deadlocked its worker
# when a connection added from outside met its own limit (the acceptor
# now keeps it out of reach), after which every connection hung in
# CLOSE-WAIT and SIGTERM no longer ended the process.
source "$MZ_ROOT/e2e/webhook/lib.sh"

"$WHD/mkcert.sh" "$CERTS" srv
wh_start --threads 1 --max-connections 3 --idle-timeout 5s \
    --tls-cert "$CERTS/srv.crt" --tls-key "$CERTS/srv.key"
review v1 --api v1

say "a burst over the limit while a large upload is in flight"
timeout 30 $PY "$WHD/conns.py" slowpost "$WH_PORT" "$CERTS/ca.crt" 4 \
    >"$MZ_WORK/slow.out" 2>&1 &
spid=$!
PIDS+=($spid)
sleep 0.5
timeout 10 $PY "$WHD/conns.py" burst "$WH_PORT" 6 >"$MZ_WORK/burst.out" 2>&1 ||
    fail "burst: $(cat "$MZ_WORK/burst.out")"
for i in 1 2 3; do
    code=$(curl_wh /healthz) || true
    expect_code 200 "$code" "GET /healthz after the burst ($i)"
done
admit v1 injected
wait "$spid" || fail "slow upload: $(cat "$MZ_WORK/slow.out")"
echo "ok: upload ended ($(cat "$MZ_WORK/slow.out"))"

say "connections over the limit are refused, the others served"
mkdir -p "$MZ_WORK/hold"
timeout 30 $PY "$WHD/conns.py" hold "$WH_PORT" "$CERTS/ca.crt" 3 3 \
    "$MZ_WORK/hold" >"$MZ_WORK/hold.out" 2>&1 &
hpid=$!
PIDS+=($hpid)
wait_for "three idle connections are open" 'test -e "$MZ_WORK/hold/held"'
grep -qx 'held 3' "$MZ_WORK/hold.out" || fail "hold: $(cat "$MZ_WORK/hold.out")"
t0=$(date +%s%N)
code=$(curl_wh /healthz) || true
t1=$(date +%s%N)
[ "$code" != 200 ] || fail "a fourth connection was served over --max-connections 3"
ms=$(((t1 - t0) / 1000000))
[ "$ms" -lt 2000 ] || fail "the refused connection took $ms ms"
echo "ok: the fourth connection was refused in $ms ms"
wait "$hpid" || fail "hold: $(cat "$MZ_WORK/hold.out")"
wait_for "a connection is served again" '[ "$(curl_wh /healthz)" = 200 ]'
echo "ok: served again once the idle connections closed"

say "no connection is left half-closed, and SIGTERM ends the process"
wait_for "no CLOSE-WAIT socket on the port" \
    '[ -z "$(ss -Htan state close-wait "( sport = :$WH_PORT )")" ]'
echo "ok: no CLOSE-WAIT"
wh_stop
echo "PASS"
