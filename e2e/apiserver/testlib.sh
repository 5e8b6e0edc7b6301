# e2e/apiserver/testlib.sh: helpers for tests that run the API server emulator.
# Source it from e2e/t_*.sh after setting MZ_WORK (a fresh temp dir) and MZ_ROOT.
#   emu_start [flags...]   start e2e/apiserver/run; sets EMU_PID EMU_PORT EMU_KC EMU_URL EMU_TOKEN
#   emu_stop               SIGTERM it (by PID) and check it exits 0
#   check "what" cmd...    run cmd; print ok/FAIL; a failure makes the test fail at the end
#   expect_eq "what" want got
#   wait_for "what" secs cmd...   retry cmd every 0.2 s until it succeeds (bounded)
#   jpy FILE 'python expr over d'  print the expression's value for the JSON document in FILE
#   emu_post PATH JSON     POST to the emulator with the admin token (curl), prints the body

PY=/usr/bin/python3
EMU_PIDS=()
FAILS=0

emu_cleanup() {
    local p
    for p in "${EMU_PIDS[@]}" ${EXTRA_PIDS:-}; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${EMU_PIDS[@]}" ${EXTRA_PIDS:-}; do
        wait "$p" 2>/dev/null || true
    done
}
trap emu_cleanup EXIT

emu_start() {
    local log="$MZ_WORK/emu.$$.${#EMU_PIDS[@]}"
    EMU_KC="$MZ_WORK/kubeconfig"
    "$MZ_ROOT/e2e/apiserver/run" --port 0 --kubeconfig-out "$EMU_KC" --token-out "$MZ_WORK/token" \
        --ca-out "$MZ_WORK/ca.crt" "$@" >"$log.out" 2>"$log.err" &
    EMU_PID=$!
    EMU_PIDS+=("$EMU_PID")
    local i
    for i in $(seq 1 100); do
        if grep -q "^listening on" "$log.out" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$EMU_PID" 2>/dev/null; then
            echo "emulator died:"
            cat "$log.err"
            exit 1
        fi
        sleep 0.1
    done
    EMU_PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log.out")
    [ -n "$EMU_PORT" ] || { echo "emulator did not start"; cat "$log.err"; exit 1; }
    EMU_URL="https://127.0.0.1:$EMU_PORT"
    EMU_TOKEN=$(cat "$MZ_WORK/token")
    EMU_ERR="$log.err"
    export KUBECONFIG="$EMU_KC"
    echo "emulator pid $EMU_PID on port $EMU_PORT"
}

emu_stop() {
    kill -TERM "$EMU_PID"
    local rc=0
    wait "$EMU_PID" || rc=$?
    expect_eq "emulator exits 0 on SIGTERM" 0 "$rc"
}

check() {
    local what="$1"
    shift
    if "$@" >"$MZ_WORK/check.out" 2>&1; then
        echo "ok   $what"
    else
        echo "FAIL $what"
        sed 's/^/       /' "$MZ_WORK/check.out" | tail -n 20
        FAILS=$((FAILS + 1))
    fi
}

expect_eq() {
    if [ "$2" = "$3" ]; then
        echo "ok   $1 ($3)"
    else
        echo "FAIL $1: want [$2] got [$3]"
        FAILS=$((FAILS + 1))
    fi
}

wait_for() {
    local what="$1" secs="$2"
    shift 2
    local end=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$end" ]; do
        if "$@" >/dev/null 2>&1; then
            echo "ok   $what"
            return 0
        fi
        sleep 0.2
    done
    echo "FAIL $what (not within ${secs}s)"
    FAILS=$((FAILS + 1))
    return 1
}

jpy() {
    "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
v=eval(sys.argv[2])
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2"
}

emu_post() {
    curl -sS --cacert "$MZ_WORK/ca.crt" -H "Authorization: Bearer $EMU_TOKEN" \
        -H "Content-Type: application/json" -X POST --data "$2" "$EMU_URL$1"
}

finish() {
    if [ "$FAILS" -ne 0 ]; then
        echo "$FAILS check(s) failed"
        exit 1
    fi
    echo "all checks passed"
}
