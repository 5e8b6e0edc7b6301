#!/usr/bin/env bash
# t_jpatch_python.sh: lib/jpatch checked by an independent RFC 6902
# implementation (Debian's python3-jsonpatch). e2e/jpatch_check.py diffs
# hand-made injection cases and 200 generated pod-like and random pairs
# (fixed seed), both ways, with `jpatch_tool diff-lines` (one process for all,
# so ASan runs stay quick), applies each patch with jsonpatch.apply_patch and
# compares with the target strictly; it also feeds jsonpatch.make_patch output
# (move/copy included) to `jpatch_tool apply-lines`.
set -euo pipefail
: "${MZ_ROOT:?}" "${MZ_WORK:?}"
MZ_BINDIR="${MZ_BINDIR:-bin}"
PY=/usr/bin/python3

echo "check: python3-jsonpatch is available"
if ! "$PY" -c 'import jsonpatch' 2>/dev/null; then
    echo "FAIL: /usr/bin/python3 cannot import jsonpatch (scripts/deps.sh)"
    exit 1
fi

tool="$MZ_BINDIR/jpatch_tool"
case "$tool" in /*) ;; *) tool="$MZ_ROOT/$tool" ;; esac
if [ ! -x "$tool" ]; then
    # `make` builds it (tests/tools/module.mk); a bare e2e run builds it here
    echo "check: $tool missing, building it from lib/ into \$MZ_WORK"
    tool="$MZ_WORK/jpatch_tool"
    (cd "$MZ_ROOT" &&
        cc -std=c11 -D_GNU_SOURCE -I. -O1 -o "$tool" tests/tools/jpatch_tool.c \
            lib/buf.c lib/errmsg.c lib/jpatch.c lib/jutil.c lib/mem.c \
            $(pkg-config --cflags --libs jansson) -pthread)
fi

echo "check: usage errors exit 2"
rc=0
"$tool" frob a b 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: usage exit $rc"; exit 1; }

echo "check: a failing apply names the operation and exits 1"
printf '{"a":[1]}' >"$MZ_WORK/doc.json"
printf '[{"op":"remove","path":"/a/01"}]' >"$MZ_WORK/bad.json"
rc=0
"$tool" apply "$MZ_WORK/doc.json" "$MZ_WORK/bad.json" 2>"$MZ_WORK/err" || rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: bad patch exit $rc"; exit 1; }
grep -q 'op 0 (remove /a/01)' "$MZ_WORK/err" || {
    echo "FAIL: message: $(cat "$MZ_WORK/err")"
    exit 1
}

echo "check: 'jpatch_tool diff FROM TO' on files: the injection shape"
cat >"$MZ_WORK/from.json" <<'JSON'
{"metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"a"}]}}
JSON
cat >"$MZ_WORK/to.json" <<'JSON'
{"metadata":{"name":"p","annotations":{"sidecar.istio.io/status":"{}"}},
 "spec":{"containers":[{"name":"app","image":"a"},{"name":"istio-proxy"}],
         "initContainers":[{"name":"istio-init"}]}}
JSON
"$tool" diff "$MZ_WORK/from.json" "$MZ_WORK/to.json" >"$MZ_WORK/patch.json"
"$PY" - "$MZ_WORK" <<'PY'
import json, sys, jsonpatch
w = sys.argv[1]
a, b, p = (json.load(open("%s/%s.json" % (w, n))) for n in ("from", "to", "patch"))
got = [(op["op"], op["path"]) for op in p]
want = [("add", "/metadata/annotations"), ("add", "/spec/containers/1"),
        ("add", "/spec/initContainers")]
assert got == want, got
assert jsonpatch.apply_patch(a, p) == b
print("  patch:", json.dumps(p)[:160], "...")
PY

echo "check: our diffs applied by python-jsonpatch, its patches applied by us"
mkdir -p "$MZ_WORK/pairs"
"$PY" "$MZ_ROOT/e2e/jpatch_check.py" "$tool" "$MZ_WORK/pairs" 6902 200
echo "t_jpatch_python: ok"
