#!/bin/sh
# icount.sh: instructions per admission on the webhook's pure path
# (bench_admission: decode -> inject -> encode -> log line -> free),
# counted by callgrind, which is repeatable on a loaded, shared machine
# unlike timings. Runs N and 2N admissions and divides the difference by N,
# so start-up (configuration load, template fragments) drops out. Prints
# the whole path and the phases (inclusive counts).
#
#   bench/webhook/icount.sh BENCH_ADMISSION [N]     (default N=200)
set -eu
bin=${1:?usage: icount.sh BENCH_ADMISSION [N]}
n=${2:-200}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "icount: valgrind not found (apt-get install valgrind): skipped"
    exit 0
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/e2e/webhook/review.py" >"$tmp/review.json"
/usr/bin/python3 "$root/e2e/webhook/review.py" --env 2000 --uid env2000 \
    >"$tmp/review2000.json"
# counts FILE ITER: "<function> <inclusive instructions>" lines
counts() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" \
        >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    callgrind_annotate --inclusive=yes --threshold=100 "$tmp/out" 2>/dev/null |
        awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print "total", $1 }
             /\[.*bench_admission\]$/ {
                 f = $NF == "" ? "" : $(NF - 1); sub(/.*:/, "", f)
                 if (f ~ /^(wh_review_decode|wh_admit|wh_response_encode|log_kv|wh_review_cleanup|wh_outcome_cleanup)$/ && !(f in seen)) {
                     seen[f] = 1; gsub(",", "", $1); print f, $1 } }'
}
for c in review review2000; do
    m=$n
    [ "$c" = review2000 ] && m=$((n / 10 > 0 ? n / 10 : 1))
    counts "$tmp/$c.json" "$m" >"$tmp/a"
    counts "$tmp/$c.json" $((2 * m)) >"$tmp/b"
    awk -v c="$c" -v m="$m" 'NR == FNR { a[$1] = $2; next }
        { d[$1] = ($2 - a[$1]) / m }
        END {
            printf "%-10s instructions per admission: whole path %9.0f\n", c, d["total"]
            printf "%-10s   decode %9.0f  inject %9.0f  encode %9.0f  log %7.0f\n", "",
                d["wh_review_decode"], d["wh_admit"], d["wh_response_encode"], d["log_kv"]
        }' "$tmp/a" "$tmp/b"
done
