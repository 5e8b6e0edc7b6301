#!/usr/bin/env bash
# run.sh: runs every e2e/t_*.sh (or those whose name contains $1), each in its
# own temp dir with a time limit, and prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
export MZ_BINDIR="${MZ_BINDIR:-bin}"
export MZ_ROOT="$PWD"
# Debian's kubectl unpacked by scripts/deps.sh when another kubectl owns PATH
if [ -z "${MZ_DEBIAN_KUBECTL:-}" ] && [ -x build/debian-kubectl/usr/bin/kubectl ]; then
    export MZ_DEBIAN_KUBECTL="$PWD/build/debian-kubectl/usr/bin/kubectl"
fi
pass=0
fail=0
failed=()
for t in e2e/t_*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *"${1:-}"*) ;; *) continue ;; esac
    work=$(mktemp -d /tmp/mizzen-e2e.XXXXXX)
    start=$(date +%s)
    if MZ_WORK="$work" timeout -k 10 600 bash "$t" >"$work/log" 2>&1; then
        pass=$((pass + 1))
        echo "ok   $t ($(($(date +%s) - start))s)"
        rm -rf "$work"
    else
        fail=$((fail + 1))
        failed+=("$t")
        echo "FAIL $t ($(($(date +%s) - start))s); log follows"
        tail -n 60 "$work/log" | sed 's/^/    /'
    fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
