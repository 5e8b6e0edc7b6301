#!/usr/bin/env bash
# t_kube_inject.sh: `mizzenctl kube-inject` end to end on the manifests of
# tests/data/kubeinject/: documents kept in order, untouched kinds equal to
# the input, pod templates injected (istio-init last init container with the
# default istio-iptables args, istio-proxy last container, status
# annotation), -o json, stdin, JSON input, Lists, pods that must not be
# injected, custom injector and mesh config, errors naming the document and
# the field, usage errors. Checks are made by Debian's python3-yaml.
set -euo pipefail
: "${MZ_BINDIR:?}" "${MZ_WORK:?}" "${MZ_ROOT:?}"
cd "$MZ_ROOT"
BIN="$MZ_BINDIR/mizzenctl"
D=tests/data/kubeinject
W="$MZ_WORK"
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "missing $BIN"; exit 1; }
"$PY" -c 'import yaml' || { echo "python3-yaml missing (make deps)"; exit 1; }

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "--- $*"; }

# check.py INPUT OUTPUT FORMAT SPEC: SPEC is a comma list, one entry per
# input document (List items flattened): "same" (output equals input),
# "inj" (injected, proxy last), "injfirst" (injected, proxy first).
cat >"$W/check.py" <<'EOF'
import json, sys, yaml

DEFAULT_ARGS = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337",
                "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*",
                "-d", "15090,15021,15020"]

def load(path, fmt):
    with open(path) as f:
        text = f.read()
    if fmt == "json":
        return [json.loads(text)]
    return [d for d in yaml.safe_load_all(text) if d is not None]

def flatten(docs):
    out = []
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List":
            out.extend(("item", i) for i in d["items"])
        else:
            out.append(("doc", d))
    return out

def template(obj):
    k = obj["kind"]
    if k == "Pod":
        return obj
    if k == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]

def strip_tmpl(obj):
    """obj without the pod template, to compare the rest."""
    o = json.loads(json.dumps(obj))
    k = o["kind"]
    if k == "Pod":
        return {key: v for key, v in o.items() if key not in ("metadata", "spec")}
    if k == "CronJob":
        del o["spec"]["jobTemplate"]["spec"]["template"]
    else:
        del o["spec"]["template"]
    return o

def check_injected(name, orig, out, proxy_first):
    t, ot = template(out), template(orig)
    spec = t["spec"]
    inits = spec.get("initContainers") or []
    ctrs = spec["containers"]
    assert inits and inits[-1]["name"] == "istio-init", f"{name}: istio-init not last: {[c['name'] for c in inits]}"
    assert sum(c["name"] == "istio-init" for c in inits) == 1, name
    assert inits[-1]["args"][:len(DEFAULT_ARGS)] == DEFAULT_ARGS or \
        "traffic.sidecar.istio.io/includeOutboundIPRanges" in \
        (ot.get("metadata", {}).get("annotations") or {}), \
        f"{name}: istio-init args {inits[-1]['args']}"
    names = [c["name"] for c in ctrs]
    assert names.count("istio-proxy") == 1, f"{name}: containers {names}"
    want = 0 if proxy_first else len(ctrs) - 1
    assert names[want] == "istio-proxy", f"{name}: istio-proxy at {names.index('istio-proxy')} of {names}"
    # the app containers are all still there, in order
    app = [c["name"] for c in ot["spec"]["containers"]]
    assert [n for n in names if n != "istio-proxy"] == app, f"{name}: {names} vs {app}"
    oinit = [c["name"] for c in ot["spec"].get("initContainers") or []]
    assert [c["name"] for c in inits[:-1]] == oinit, f"{name}: init {inits}"
    st = json.loads(t["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert "istio-proxy" in st["containers"], f"{name}: status {st}"
    assert st["initContainers"] == ["istio-init"], f"{name}: status {st}"
    # labels of the template are kept
    for k, v in (ot.get("metadata", {}).get("labels") or {}).items():
        assert t["metadata"]["labels"][k] == v, f"{name}: label {k}"
    # everything outside the pod template is untouched
    assert strip_tmpl(out) == strip_tmpl(orig), f"{name}: workload fields changed"
    return inits[-1]["args"], ctrs[want]

inp, outp, fmt, spec = sys.argv[1:5]
ifmt = "json" if inp.endswith(".json") else "yaml"
src = flatten(load(inp, ifmt))
dst = flatten(load(outp, fmt))
if fmt == "json" and len(load(inp, ifmt)) > 1:
    # several documents come back as one v1 List: compare its items
    lst = load(outp, fmt)[0]
    assert lst["kind"] == "List" and lst["apiVersion"] == "v1", lst.get("kind")
    dst = flatten(lst["items"])
want = spec.split(",")
assert len(src) == len(want), f"spec has {len(want)} entries, input {len(src)}"
assert len(dst) == len(src), f"output has {len(dst)} documents, input {len(src)}"
for i, ((_, a), (_, b), w) in enumerate(zip(src, dst, want)):
    name = f"#{i + 1} {a.get('kind')} {a.get('metadata', {}).get('name')}"
    assert a.get("kind") == b.get("kind"), f"{name}: order changed: {b.get('kind')}"
    if w == "same":
        assert a == b, f"{name}: changed\n{a}\n{b}"
    else:
        args, proxy = check_injected(name, a, b, w == "injfirst")
        if len(sys.argv) > 5:
            extra = json.loads(sys.argv[5])
            if "image" in extra:
                assert proxy["image"] == extra["image"], f"{name}: image {proxy['image']}"
            for flag, val in extra.get("args", {}).items():
                assert flag in args and args[args.index(flag) + 1] == val, \
                    f"{name}: {flag} in {args}"
    print(f"ok {name}: {w}")
EOF
chk() { "$PY" "$W/check.py" "$@"; }

step "version"
"$BIN" version | grep -Eq '^mizzenctl version [0-9]+\.[0-9]+\.[0-9]+$' || fail "version output"
"$BIN" kube-inject --help | grep -q -- '--injector-config' || fail "kube-inject --help"

step "multi-document YAML: Service, Deployment, ConfigMap, CronJob"
"$BIN" kube-inject -f $D/multi.yaml >"$W/multi.out"
grep -q '^---$' "$W/multi.out" || fail "documents not separated by ---"
chk $D/multi.yaml "$W/multi.out" yaml same,inj,same,inj

step "the workload is the owner given to the injector"
"$PY" - "$W/multi.out" <<'EOF'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
def env(t):
    return {e["name"]: e.get("value") for e in t["spec"]["containers"][-1]["env"]}
d = env(docs[1]["spec"]["template"])
c = env(docs[3]["spec"]["jobTemplate"]["spec"]["template"])
assert d["ISTIO_META_OWNER"] == "kubernetes://apis/apps/v1/namespaces/shop/deployments/web", d["ISTIO_META_OWNER"]
assert d["ISTIO_META_WORKLOAD_NAME"] == "web", d
assert c["ISTIO_META_OWNER"] == "kubernetes://apis/batch/v1/namespaces/shop/cronjobs/report", c["ISTIO_META_OWNER"]
assert c["ISTIO_META_WORKLOAD_NAME"] == "report", c
print("ok owners")
EOF

step "-o json of several documents is a v1 List"
"$BIN" kube-inject -f $D/multi.yaml -o json >"$W/multi.json"
chk $D/multi.yaml "$W/multi.json" json same,inj,same,inj

step "v1 List: Service, StatefulSet, ReplicaSet-made Pod"
"$BIN" kube-inject -f $D/list.yaml >"$W/list.out"
chk $D/list.yaml "$W/list.out" yaml same,inj,inj
"$PY" - "$W/list.out" <<'EOF'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
assert len(docs) == 1 and docs[0]["kind"] == "List", docs
# the pod made by ReplicaSet api-7d9f8c6b5 belongs to Deployment api
env = {e["name"]: e.get("value") for e in docs[0]["items"][2]["spec"]["containers"][-1]["env"]}
assert env.get("ISTIO_META_WORKLOAD_NAME") == "api", env.get("ISTIO_META_WORKLOAD_NAME")
# the StatefulSet template is owned by StatefulSet db
env = {e["name"]: e.get("value") for e in docs[0]["items"][1]["spec"]["template"]["spec"]["containers"][-1]["env"]}
assert env.get("ISTIO_META_WORKLOAD_NAME") == "db", env.get("ISTIO_META_WORKLOAD_NAME")
print("ok workload names")
EOF

step "JSON input from stdin (-f -), YAML and JSON output"
"$BIN" kube-inject -f - <$D/deployment.json >"$W/json.out"
chk $D/deployment.json "$W/json.out" yaml inj
"$BIN" kube-inject -f - -o json <$D/deployment.json >"$W/json.json"
chk $D/deployment.json "$W/json.json" json inj
"$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["kind"]=="Deployment", v["kind"]' "$W/json.json"
cat $D/multi.yaml | "$BIN" kube-inject -f - >"$W/multi-stdin.out"
cmp -s "$W/multi.out" "$W/multi-stdin.out" || fail "stdin output differs from file output"

step "every workload kind"
"$BIN" kube-inject --filename=$D/kinds.yaml >"$W/kinds.out"
chk $D/kinds.yaml "$W/kinds.out" yaml inj,inj,inj,inj,inj

step "pods that must not be injected pass through unchanged"
"$BIN" kube-inject -f $D/skip.yaml >"$W/skip.out"
chk $D/skip.yaml "$W/skip.out" yaml same,same,same,same

step "annotations reach istio-iptables"
"$BIN" kube-inject -f $D/annotations.yaml >"$W/ann.out"
chk $D/annotations.yaml "$W/ann.out" yaml inj \
    '{"args":{"-i":"10.0.0.0/8,172.16.0.0/12","-o":"5432,6379","-x":""}}'

step "injection is idempotent: injecting the output again changes nothing"
"$BIN" kube-inject -f "$W/multi.out" >"$W/multi.twice"
"$PY" - "$W/multi.out" "$W/multi.twice" <<'EOF'
import sys, yaml
a = list(yaml.safe_load_all(open(sys.argv[1])))
b = list(yaml.safe_load_all(open(sys.argv[2])))
assert a == b, "re-injection changed the manifests"
print("ok idempotent")
EOF

step "--injector-config: policy disabled, custom proxy image"
"$BIN" kube-inject -f $D/policy-opt-in.yaml >"$W/optin-default.out"
chk $D/policy-opt-in.yaml "$W/optin-default.out" yaml inj,inj
"$BIN" kube-inject -f $D/policy-opt-in.yaml \
    --injector-config $D/config/injector-disabled.yaml >"$W/optin.out"
chk $D/policy-opt-in.yaml "$W/optin.out" yaml same,inj \
    '{"image":"registry.example.com/mesh/custom-proxy:9.9.9"}'
# the ConfigMap's data alone works as well
"$PY" - $D/config/injector-disabled.yaml "$W/inj-data.yaml" <<'EOF'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
yaml.safe_dump(cm["data"], open(sys.argv[2], "w"))
EOF
"$BIN" kube-inject -f $D/policy-opt-in.yaml \
    --injector-config "$W/inj-data.yaml" >"$W/optin2.out"
cmp -s "$W/optin.out" "$W/optin2.out" || fail "ConfigMap data gives another result than the ConfigMap"

step "--mesh-config: holdApplicationUntilProxyStarts puts istio-proxy first"
"$BIN" kube-inject -f $D/multi.yaml --mesh-config $D/config/mesh-hold.yaml >"$W/hold.out"
chk $D/multi.yaml "$W/hold.out" yaml same,injfirst,same,injfirst

step "invalid annotation: non-zero exit, nothing on stdout, document and field named"
set +e
"$BIN" kube-inject -f $D/bad/bad-annotation.yaml >"$W/bad.out" 2>"$W/bad.err"
rc=$?
set -e
cat "$W/bad.err"
[ $rc -eq 1 ] || fail "exit status $rc, expected 1"
[ ! -s "$W/bad.out" ] || fail "stdout not empty on error"
grep -q "document 2 (Deployment default/web)" "$W/bad.err" || fail "document not named"
grep -q "traffic.sidecar.istio.io/includeInboundPorts" "$W/bad.err" || fail "annotation not named"
grep -q "bad-annotation.yaml" "$W/bad.err" || fail "file not named"

step "invalid annotation in a List item"
set +e
"$BIN" kube-inject -f $D/bad/list-bad-item.json >"$W/bad2.out" 2>"$W/bad2.err"
rc=$?
set -e
cat "$W/bad2.err"
[ $rc -eq 1 ] || fail "exit status $rc"
grep -q "document 1 (List item 2: Pod team/p)" "$W/bad2.err" || fail "item not named"
grep -q "traffic.sidecar.istio.io/excludeOutboundIPRanges" "$W/bad2.err" || fail "annotation not named"

step "YAML syntax error: line number"
set +e
"$BIN" kube-inject -f $D/bad/bad-yaml.yaml >"$W/bad3.out" 2>"$W/bad3.err"
rc=$?
set -e
cat "$W/bad3.err"
[ $rc -eq 1 ] || fail "exit status $rc"
grep -q "line 1[01]" "$W/bad3.err" || fail "no line number"

step "usage and I/O errors"
expect() {
    local want=$1 pattern=$2; shift 2
    set +e
    "$BIN" "$@" >"$W/u.out" 2>"$W/u.err"
    local rc=$?
    set -e
    [ $rc -eq "$want" ] || fail "'$*': exit $rc, expected $want"
    grep -q -- "$pattern" "$W/u.err" || { cat "$W/u.err"; fail "'$*': no '$pattern'"; }
    echo "ok '$*' -> $rc: $(head -c 160 "$W/u.err")"
}
expect 2 "missing -f" kube-inject
expect 2 "unknown flag '--bogus'" kube-inject -f $D/multi.yaml --bogus
expect 2 "needs a value" kube-inject -f
expect 2 "invalid output format" kube-inject -f $D/multi.yaml -o xml
expect 1 "no-such-file.yaml" kube-inject -f "$W/no-such-file.yaml"
expect 1 "injector-config" kube-inject -f $D/multi.yaml --injector-config "$W/none.yaml"
expect 2 "unknown command" frobnicate
expect 2 "unknown flag" version --bogus
echo "all kube-inject checks passed"
