#!/usr/bin/env bash
# t_demo.sh: `make demo`'s script runs to completion and injects every pod of
# the sample app (emulator + webhook [+ operator] + kubectl apply).
set -euo pipefail
out="$MZ_WORK/demo.out"
DEMO_WORK="$MZ_WORK/demo" "$MZ_ROOT/e2e/demo.sh" >"$out" 2>&1 || {
    cat "$out"
    exit 1
}
cat "$out"
grep -q '^demo: 2/2 pods injected$' "$out"
grep -q 'istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT' "$out"
grep -q '/app-health/hello/readyz' "$out"
echo "t_demo: ok"
