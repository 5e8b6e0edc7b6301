#!/usr/bin/python3
"""jpatch_check.py: checks lib/jpatch against Debian's python3-jsonpatch.

Usage: jpatch_check.py TOOL WORKDIR [SEED] [COUNT]

For hand-made sidecar-injection cases and COUNT generated (from, to) pairs
(pod-like and random JSON, fixed seed):
  1. `TOOL diff from to` must print a patch that jsonpatch.apply_patch turns
     `from` into exactly `to` (types compared strictly: 1 != 1.0 != true);
     the patch must use numeric array indices (no "-") and must not replace
     the whole document unless the root types differ; diffs of the
     injection cases must have the expected small shape.
  2. `TOOL apply from P` with P = jsonpatch.make_patch(from, to) (which uses
     move/copy as well) must give `to` whenever jsonpatch's own apply does.
Prints one line per failure and a summary; exits 1 on any failure.
"""
import copy
import json
import os
import random
import subprocess
import sys

import jsonpatch


def strict_eq(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b))
    return a == b


class Checker:
    """Collects (from, to) cases, then checks them with two tool runs."""

    def __init__(self, tool, work):
        self.tool, self.work = tool, work
        self.cases = []  # (name, from, to, expect or None)
        self.failures, self.checked, self.ops = 0, 0, 0

    def fail(self, name, msg):
        self.failures += 1
        print("FAIL %s: %s" % (name, msg[:2000]))

    def add(self, name, a, b, expect=None):
        """expect(patch) -> None or a complaint about the patch's shape."""
        self.cases.append((name, a, b, expect))

    def batch(self, cmd, pairs):
        """One tool run over many [x, y] pairs; a result per pair."""
        path = os.path.join(self.work, "%s.jsonl" % cmd)
        with open(path, "w") as f:
            for x, y in pairs:
                f.write(json.dumps([x, y]) + "\n")
        p = subprocess.run([self.tool, cmd, path], capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (cmd, p.returncode,
                                                    p.stderr))
        out = [json.loads(line) for line in p.stdout.splitlines()]
        if len(out) != len(pairs):
            raise RuntimeError("%s: %d results for %d inputs"
                               % (cmd, len(out), len(pairs)))
        return out

    def check_patch(self, name, a, b, patch):
        """Our patch must take a to b under python-jsonpatch, with numeric
        indices and without a whole-document op between same-type roots."""
        self.checked += 1
        if isinstance(patch, dict):
            self.fail(name, "diff failed: %s" % patch.get("error"))
            return False
        self.ops += len(patch)
        cur = a
        for op in patch:
            path = op.get("path")
            if path == "" and type(a) is type(b) and isinstance(a, (dict, list)):
                self.fail(name, "whole-document op %r" % op)
            if path.endswith("/-"):
                try:  # "-" is fine as an object key, not as an index
                    parent = jsonpatch.JsonPointer(path[:path.rindex("/")])
                    if isinstance(parent.resolve(cur), list):
                        self.fail(name, "'-' index in %r" % op)
                except Exception:  # noqa: BLE001 - apply reports it below
                    pass
            try:
                cur = jsonpatch.apply_patch(cur, [op])
            except Exception:  # noqa: BLE001
                break
        try:
            got = jsonpatch.apply_patch(a, patch)
        except Exception as e:  # noqa: BLE001
            self.fail(name, "python-jsonpatch rejects %s: %s"
                      % (json.dumps(patch), e))
            return False
        if not strict_eq(got, b):
            self.fail(name, "patch %s gives %s, want %s" % (
                json.dumps(patch), json.dumps(got), json.dumps(b)))
            return False
        return True

    def run(self):
        pairs = [(a, b) for _, a, b, _ in self.cases]
        pairs += [(b, a) for _, a, b, _ in self.cases]
        patches = self.batch("diff-lines", pairs)
        n = len(self.cases)
        for i, (name, a, b, expect) in enumerate(self.cases):
            if self.check_patch(name, a, b, patches[i]) and expect:
                why = expect(patches[i])
                if why:
                    self.fail(name, why)
            self.check_patch(name + "-reverse", b, a, patches[n + i])
        # python-jsonpatch's own patches (move/copy too) through our apply
        theirs = []
        for name, a, b, _ in self.cases:
            try:
                p = jsonpatch.make_patch(a, b).patch
                if strict_eq(jsonpatch.apply_patch(a, p), b):
                    theirs.append((name + "-theirs", a, p, b))
            except Exception:  # noqa: BLE001 - their bug, not ours
                pass
        results = self.batch("apply-lines", [(a, p) for _, a, p, _ in theirs])
        for (name, a, p, b), got in zip(theirs, results):
            self.checked += 1
            if not strict_eq(got, b):
                self.fail(name, "apply of %s gives %s, want %s" % (
                    json.dumps(p), json.dumps(got), json.dumps(b)))


# ---- documents ---------------------------------------------------------

def container(name, rnd, env=0):
    c = {"name": name, "image": "registry.local/%s:%d" % (name, rnd.randint(1, 9))}
    if env:
        c["env"] = [{"name": "E%d" % i, "value": str(rnd.randint(0, 99))}
                    for i in range(env)]
    if rnd.random() < 0.5:
        c["ports"] = [{"name": "http", "containerPort": 8080},
                      {"name": "grpc", "containerPort": 9090}]
    if rnd.random() < 0.5:
        c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080},
                               "periodSeconds": 5}
    return c


def pod(rnd):
    n = rnd.randint(1, 3)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p%d" % rnd.randint(0, 99), "namespace": "default",
                     "labels": {"app": "demo"},
                     "annotations": {"kubectl.kubernetes.io/last": "x"}},
        "spec": {"containers": [container("c%d" % i, rnd, rnd.choice([0, 3, 40]))
                                for i in range(n)],
                 "volumes": [{"name": "data", "emptyDir": {}}]},
    }


def inject(p, rnd, front=None):
    """An injector-like transformation of a pod (what the webhook does);
    the proxy goes first when `front` (random when None)."""
    q = copy.deepcopy(p)
    spec = q["spec"]
    proxy = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22",
             "args": ["proxy", "sidecar"],
             "env": [{"name": "ISTIO_META_POD_PORTS", "value": "[]"}]}
    if front is None:
        front = rnd.random() < 0.3
    if front:
        spec["containers"].insert(0, proxy)  # holdApplicationUntilProxyStarts
    else:
        spec["containers"].append(proxy)
    spec["initContainers"] = [{"name": "istio-init", "args": ["istio-iptables"]}] \
        + spec.get("initContainers", [])
    spec["volumes"] = spec.get("volumes", []) + [
        {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
        {"name": "istio-token", "projected": {"sources": []}}]
    for c in spec["containers"]:
        if "readinessProbe" in c and c["name"] != "istio-proxy":
            c["readinessProbe"]["httpGet"] = {
                "path": "/app-health/%s/readyz" % c["name"], "port": 15020}
    ann = q["metadata"].setdefault("annotations", {})
    ann["sidecar.istio.io/status"] = json.dumps({"containers": ["istio-proxy"]})
    ann["prometheus.io/path"] = "/stats/prometheus"
    q["metadata"].setdefault("labels", {})["security.istio.io/tlsMode"] = "istio"
    return q


KEYS = ["a", "b", "name", "x/y", "~0", "", "-", "0", "~1/", "é"]


def rand_json(rnd, depth=0):
    k = rnd.randrange(6 if depth >= 4 else 9)
    if k == 0:
        return None
    if k == 1:
        return rnd.random() < 0.5
    if k == 2:
        return rnd.randint(-3, 3)
    if k == 3:
        return rnd.choice([0.5, 1.0, -2.25])
    if k in (4, 5):
        return rnd.choice(KEYS)
    if k == 6:
        return {rnd.choice(KEYS): rand_json(rnd, depth + 1)
                for _ in range(rnd.randint(0, 4))}
    if k == 7:
        return [rand_json(rnd, depth + 1) for _ in range(rnd.randint(0, 5))]
    names = rnd.sample(range(12), rnd.randint(0, 6))
    return [{"name": "n%d" % i, "v": rand_json(rnd, depth + 1)} for i in names]


def mutate(v, rnd, depth=0):
    if rnd.random() < 0.1:
        return rand_json(rnd, depth)
    if isinstance(v, dict):
        v = dict(v)
        for k in list(v):
            r = rnd.random()
            if r < 0.15:
                del v[k]
            elif r < 0.4:
                v[k] = mutate(v[k], rnd, depth + 1)
        if rnd.random() < 0.3:
            v[rnd.choice(KEYS)] = rand_json(rnd, depth + 1)
        return v
    if isinstance(v, list):
        v = [mutate(x, rnd, depth + 1) if rnd.random() < 0.3 else x
             for x in v if rnd.random() > 0.15]
        if rnd.random() < 0.3:
            v.insert(rnd.randint(0, len(v)),
                     {"name": "new%d" % rnd.randint(0, 99)})
        if rnd.random() < 0.25 and len(v) > 1:
            i, j = rnd.randrange(len(v)), rnd.randrange(len(v))
            v[i], v[j] = v[j], v[i]
        return v
    return rand_json(rnd, 4) if rnd.random() < 0.3 else v


# ---- the hand-made injection cases -----------------------------------------

def shape(want, ordered=False):
    """An expectation: the patch's (op, path) list equals want."""
    def check(patch):
        got = [(op["op"], op["path"]) for op in patch]
        if (got if ordered else sorted(got)) != \
                (want if ordered else sorted(want)):
            return "want %s, got %s" % (want, got)
        return None
    return check


def handmade(c, rnd):
    app = {"name": "app", "image": "app:1",
           "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}
    base = {"metadata": {"name": "p"}, "spec": {"containers": [app]}}
    c.add("injection", base, inject(base, rnd, front=False), shape([
        ("replace", "/spec/containers/0/readinessProbe/httpGet/path"),
        ("replace", "/spec/containers/0/readinessProbe/httpGet/port"),
        ("add", "/spec/containers/1"),
        ("add", "/spec/initContainers"),
        ("add", "/spec/volumes"),
        ("add", "/metadata/annotations"),
        ("add", "/metadata/labels")]))
    one = {"spec": {"containers": [app]}}
    two = {"spec": {"containers": [{"name": "istio-proxy"}, app]}}
    c.add("prepend", one, two, shape([("add", "/spec/containers/0")]))
    ann = {"metadata": {"annotations": {}}}
    ann2 = {"metadata": {"annotations": {"sidecar.istio.io/status": "{}"}}}
    c.add("annotation", ann, ann2, shape(
        [("add", "/metadata/annotations/sidecar.istio.io~1status")]))
    big = pod(rnd)
    big["spec"]["containers"][0]["env"] = [
        {"name": "V%d" % i, "value": str(i)} for i in range(2000)]
    big2 = copy.deepcopy(big)
    big2["spec"]["containers"][0]["env"].insert(
        700, {"name": "NEW", "value": "x"})
    c.add("big-env-insert", big, big2,
          shape([("add", "/spec/containers/0/env/700")]))
    c.add("big-env-injection", big, inject(big, rnd))
    c.add("uninject", inject(base, rnd), base)
    args = ["proxy", "sidecar", "--domain", "x.svc", "--log", "info"]
    c.add("args-shrink", {"args": args}, {"args": args[:2] + args[4:]},
          shape([("remove", "/args/3"), ("remove", "/args/2")], ordered=True))
    c.add("args-shift", {"args": args}, {"args": args[:1] + args[3:5]})
    c.add("args-grow", {"args": args[:2]}, {"args": args[:1] + args})
    c.add("args-edit", {"args": args}, {"args": args[:2] + ["y"] + args[3:]},
          shape([("replace", "/args/2")]))
    c.add("root-types", {"a": 1}, [1], shape([("replace", "")]))
    c.add("scalars", "x", 1.5)
    c.add("equal", base, copy.deepcopy(base), shape([]))


def main():
    tool, work = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 6902
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    rnd = random.Random(seed)
    c = Checker(tool, work)
    handmade(c, rnd)
    for i in range(count):
        kind = i % 5
        if kind == 0:
            p = pod(rnd)
            a, b = p, inject(p, rnd)
        elif kind == 1:
            a = pod(rnd)
            b = mutate(a, rnd)
        elif kind == 2:
            a, b = pod(rnd), pod(rnd)
        elif kind == 3:
            a = rand_json(rnd)
            b = mutate(mutate(a, rnd), rnd)
        else:
            a, b = rand_json(rnd), rand_json(rnd)
        c.add("pair%d" % i, a, b)
    c.run()
    print("jpatch_check: %d cases, %d checks, %d operations, %d failures"
          % (len(c.cases), c.checked, c.ops, c.failures))
    return 1 if c.failures or c.checked < 2 * count else 0


if __name__ == "__main__":
    sys.exit(main())
