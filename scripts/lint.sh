#!/bin/sh
# lint.sh: clang-format check of every C file, then scripts/checksrc.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
bad=0
for f in $files; do
    [ -f "$f" ] || continue
    if ! clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "lint: $f is not clang-formatted (run: clang-format -i $f)"
        bad=1
    fi
done
scripts/checksrc $files || bad=1
if [ $bad -ne 0 ]; then
    echo "lint: FAILED"
    exit 1
fi
echo "lint: ok ($(echo $files | wc -w) files)"
