#!/usr/bin/env bash
# t_operator_renew.sh: certificate renewal driven by the operator's clock
# (--clock-offset) and the quiet-hours window (--cert-rotation-window, local
# time per TZ). Steps, each a fresh operator process:
#   1. offset 0: issue; 2. offset 1100h (past half-life): renewed (serial and
#   notAfter change) - workload and webhook certs; 3. offset 2200h (due
#   again) with a window 2-3 h ahead in TZ: deferred, nothing written;
#   4. the same with a window around now: renewed in the window;
#   5. offset 4359h55m (inside the 10 min minimum grace) with a window
#   ahead: urgent, renewed despite the window.
set -u
. "$MZ_ROOT/e2e/apiserver/testlib.sh"
. "$MZ_ROOT/e2e/operator/oplib.sh"
export TZ=Asia/Kolkata # +05:30: the window is local time, not UTC

emu_start --bookmark-interval 1
op_setup
"${K[@]}" create namespace app1 >/dev/null
"${K[@]}" label namespace app1 istio-injection=enabled >/dev/null
"${K[@]}" -n app1 create serviceaccount alpha >/dev/null

has() { "${K[@]}" -n "$1" get "$2" "$3" >/dev/null 2>&1; }
logged() { grep -q "$2" "$MZ_WORK/$1.log"; }
hm() { date -d "@$1" +%H:%M; } # local time (TZ) of a Unix time
attime() { echo $(($(date +%s) + $1)); }

op_start S1
wait_for "1: Secret istio.alpha issued" 20 has app1 secret istio.alpha
wait_for "1: webhook Secret issued" 20 has istio-system secret mizzen-webhook-certs
op_stop S1
c1=$(cert_info app1 istio.alpha)
w1=$(sec_data istio-system mizzen-webhook-certs tls.crt | openssl x509 -noout -serial)
echo "  issued: $c1"

off=$((1100 * 3600))
op_start S2 --clock-offset 1100h
wait_for "2: clock past half-life: istio.alpha renewed" 20 \
    logged S2 'name=istio.alpha action=renewed reason=due'
wait_for "2: webhook cert renewed" 20 logged S2 'name=mizzen-webhook-certs action=renewed'
op_stop S2
c2=$(cert_info app1 istio.alpha)
echo "  renewed: $c2"
check "2: serial changed" [ "${c1%% *}" != "${c2%% *}" ]
check "2: notAfter moved ~1100h later" sh -c "
    a=\$(date -d \"\$(echo '$c1' | sed 's/.*notAfter=//')\" +%s)
    b=\$(date -d \"\$(echo '$c2' | sed 's/.*notAfter=//')\" +%s)
    d=\$((b - a)); [ \$d -gt $((off - 600)) ] && [ \$d -lt $((off + 600)) ]"
check "2: renewed cert verifies (at the operator's time)" verify_secret app1 istio.alpha "$(attime $off)"
check "2: webhook serial changed" [ "$w1" != "$(sec_data istio-system mizzen-webhook-certs tls.crt | openssl x509 -noout -serial)" ]

off=$((2200 * 3600))
now=$(attime $off)
win="$(hm $((now + 7200)))-$(hm $((now + 10800)))"
op_start S3 --clock-offset 2200h --cert-rotation-window "$win"
wait_for "3: due but outside the window $win (TZ=$TZ): deferred" 20 \
    logged S3 'name=istio.alpha action=deferred'
sleep 1
op_stop S3
expect_eq "3: nothing written while deferred (same serial)" "$c2" "$(cert_info app1 istio.alpha)"
check "3: the deferral names the window start as next check" \
    grep -q "name=istio.alpha action=deferred reason=\"outside the rotation window\" next=" "$MZ_WORK/S3.log"

win="$(hm $((now - 3600)))-$(hm $((now + 3600)))"
op_start S4 --clock-offset 2200h --cert-rotation-window "$win"
wait_for "4: inside the window $win: renewed" 20 logged S4 'name=istio.alpha action=renewed reason=due'
op_stop S4
c4=$(cert_info app1 istio.alpha)
check "4: serial changed" [ "${c2%% *}" != "${c4%% *}" ]
check "4: renewed cert verifies" verify_secret app1 istio.alpha "$(attime $off)"

off=$(((2200 + 2159) * 3600 + 55 * 60))
now=$(attime $off)
win="$(hm $((now + 7200)))-$(hm $((now + 10800)))"
op_start S5 --clock-offset 4359h55m --cert-rotation-window "$win"
wait_for "5: inside the minimum grace: urgent renewal despite the window $win" 20 \
    logged S5 'name=istio.alpha action=renewed reason="urgent'
op_stop S5
c5=$(cert_info app1 istio.alpha)
check "5: serial changed" [ "${c4%% *}" != "${c5%% *}" ]
check "5: renewed cert verifies" verify_secret app1 istio.alpha "$(attime $off)"
emu_stop
finish
