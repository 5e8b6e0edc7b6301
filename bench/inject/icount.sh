#!/bin/sh
# icount.sh: instructions per operation of bench_inject, counted by
# callgrind (repeatable on a loaded, shared machine, unlike timings).
# For each case, N injections are collected (run_inject), then N baselines
# (run_baseline: deep copy + serialisation of the same pod).
#
#   bench/inject/icount.sh BENCH_BINARY [N]      (default N=20)
set -eu
bin=${1:?usage: icount.sh BENCH_BINARY [N]}
n=${2:-20}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "icount: valgrind not found (apt-get install valgrind): skipped"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # case function
    valgrind --tool=callgrind "--toggle-collect=$2*" \
        --callgrind-out-file="$tmp/out" "$bin" -n "$n" "$1" \
        >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$tmp/log"
}
for c in typical big; do
    i=$(count "$c" run_inject)
    b=$(count "$c" run_baseline)
    awk -v c="$c" -v i="$i" -v b="$b" -v n="$n" 'BEGIN {
        printf "%-8s instructions per op: inj_pod_inject %10.0f  " \
               "baseline copy+dumps %10.0f  ratio %.2fx\n",
               c, i / n, b / n, i / b }'
done
