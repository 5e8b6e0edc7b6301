#!/usr/bin/env bash
# t_inject_patch_python.sh: every JSON Patch the injector produces for the
# test corpus (tests/data/kubeinject/ and tests/data/inject/), applied by an
# independent RFC 6902 implementation (Debian's python3-jsonpatch) to the
# original pod, must give exactly the injected pod. The patches come from
# `mizzenctl kube-inject --emit-patch`, one JSON line per injected pod:
# {"doc","kind","name","original","patch","injected"}.
set -euo pipefail
: "${MZ_BINDIR:?}" "${MZ_WORK:?}" "${MZ_ROOT:?}"
cd "$MZ_ROOT"
BIN="$MZ_BINDIR/mizzenctl"
W="$MZ_WORK"
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "missing $BIN"; exit 1; }
"$PY" -c 'import jsonpatch' || { echo "python3-jsonpatch missing (make deps)"; exit 1; }

K=tests/data/kubeinject
: >"$W/patches.jsonl"
: >"$W/runs.txt"
files=0
refused=0

# run FILE [kube-inject options]: appends the patch lines of FILE, tagged
# with the file and options.
run() {
    local f=$1; shift
    files=$((files + 1))
    if "$BIN" kube-inject --emit-patch -f "$f" "$@" >"$W/one.jsonl" 2>"$W/one.err"; then
        local n
        n=$(wc -l <"$W/one.jsonl")
        echo "$f $*: $n patches" | tee -a "$W/runs.txt"
        sed "s|^|$f $* \t|" "$W/one.jsonl" >>"$W/patches.jsonl"
    else
        # fixtures that the injector must refuse (invalid annotations)
        refused=$((refused + 1))
        echo "$f $*: refused: $(head -c 200 "$W/one.err")"
    fi
}

for f in $K/*.yaml $K/*.json; do
    [ -f "$f" ] || continue
    run "$f"
    run "$f" --mesh-config $K/config/mesh-hold.yaml
    run "$f" --injector-config $K/config/injector-disabled.yaml
done
if [ -d tests/data/inject ]; then
    while IFS= read -r f; do
        run "$f"
    done < <(find tests/data/inject -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) | sort)
fi
echo "ran kube-inject on $files file/config combinations ($refused refused)"

"$PY" - "$W/patches.jsonl" <<'EOF'
import json, sys, jsonpatch

checked = 0
bad = 0
ops = 0
with open(sys.argv[1]) as f:
    for line in f:
        tag, _, body = line.rstrip("\n").partition(" \t")
        rec = json.loads(body)
        name = f"{tag}: doc {rec['doc']} {rec['kind']} {rec['name']}"
        patch = rec["patch"]
        assert isinstance(patch, list) and patch, f"{name}: empty patch"
        for op in patch:
            assert op["path"] != "", f"{name}: whole-document operation {op}"
        try:
            got = jsonpatch.apply_patch(rec["original"], patch)
        except Exception as e:  # a patch python cannot apply is a failure
            print(f"MISMATCH {name}: python3-jsonpatch refused: {e}")
            bad += 1
            continue
        if got != rec["injected"]:
            print(f"MISMATCH {name}")
            a = json.dumps(got, indent=1, sort_keys=True).splitlines()
            b = json.dumps(rec["injected"], indent=1, sort_keys=True).splitlines()
            import difflib
            for l in list(difflib.unified_diff(b, a, "injected", "patched", lineterm=""))[:40]:
                print("   ", l)
            bad += 1
        checked += 1
        ops += len(patch)
print(f"patches checked with python3-jsonpatch: {checked} ({ops} operations), mismatches: {bad}")
if checked == 0:
    print("FAIL: no patch was checked")
    sys.exit(1)
sys.exit(1 if bad else 0)
EOF
