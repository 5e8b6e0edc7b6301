#!/bin/sh
# unit.sh: runs each unit-test binary named before "--" (with the filter
# arguments after it), sums their "N passed, N failed" lines and prints the
# total the same way; exits 1 if any binary failed or crashed.
set -u
bins=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins="$bins $1"; shift; done
[ $# -gt 0 ] && shift
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
tp=0; tf=0; bad=0
for b in $bins; do
    out=$("$b" "$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v ' passed, .* failed$'
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "unit: $b exited $rc without a summary"; bad=1; continue
    fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    echo "unit: $(basename "$b"): $line"
    tp=$((tp + p)); tf=$((tf + f))
    [ $rc -eq 0 ] || bad=1
done
echo "$tp passed, $tf failed"
if [ $((tp + tf)) -eq 0 ]; then
    echo "unit: no test case matched '$*'"
    bad=1
fi
[ $bad -eq 0 ] && [ $tf -eq 0 ]
