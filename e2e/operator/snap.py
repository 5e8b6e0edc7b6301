#!/usr/bin/python3
"""snap.py: check the operator's invariant on API server states.

For every namespace given: the ConfigMap istio-ca-root-cert exists, and
every Secret of type istio.io/key-and-cert in it verifies (openssl verify)
against that ConfigMap's root-cert.pem, and carries the SPIFFE id of its
ServiceAccount.

  snap.py URL TOKEN CAFILE --ns a,b [--rv N] [--attime T] [--want-roots K]
      one state: now, or exactly at resourceVersion N
  snap.py URL TOKEN CAFILE --ns a,b --replay FROM
      every state from FROM to now in which a Secret or ConfigMap changed
      (event resourceVersions from a watch), each checked as above
Prints one line per state ("rv=N secrets=S roots=R ok" or the failures) and
exits 1 if any state fails. --want-roots K: the bundles must hold K roots.
"""
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request

args = sys.argv[1:]
URL, TOKEN, CAFILE = args[0], args[1], args[2]
opts = {}
i = 3
while i < len(args):
    opts[args[i].lstrip("-")] = args[i + 1]
    i += 2
NS = [n for n in opts.get("ns", "").split(",") if n]
TD = opts.get("td", "cluster.local")
ctx = ssl.create_default_context(cafile=CAFILE)
tmp = tempfile.mkdtemp(prefix="snap")
cache = {}


def get(path):
    req = urllib.request.Request(URL + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return r.read()


def b64(s):
    import base64
    return base64.b64decode(s).decode()


def verify(chain, roots):
    key = (chain, roots, opts.get("attime"))
    if key in cache:
        return cache[key]
    certs = ["-----BEGIN" + c for c in chain.split("-----BEGIN")[1:]]
    paths = {}
    for name, text in (("roots", roots), ("leaf", certs[0] if certs else ""),
                       ("inter", "".join(certs[1:]))):
        p = os.path.join(tmp, name + ".pem")
        with open(p, "w") as f:
            f.write(text)
        paths[name] = p
    cmd = ["openssl", "verify", "-CAfile", paths["roots"]]
    if len(certs) > 1:
        cmd += ["-untrusted", paths["inter"]]
    if "attime" in opts:
        cmd += ["-attime", opts["attime"]]
    cmd.append(paths["leaf"])
    r = subprocess.run(cmd, capture_output=True, text=True)
    ok = r.returncode == 0
    san = ""
    if ok:
        s = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName",
                            "-in", paths["leaf"]], capture_output=True, text=True)
        san = s.stdout
    cache[key] = (ok, san, (r.stdout + r.stderr).strip().replace("\n", " | "))
    return cache[key]


def check(rv):
    q = "" if rv is None else "?resourceVersion=%s&resourceVersionMatch=Exact" % rv
    secs = json.loads(get("/api/v1/secrets" + q))
    cms = json.loads(get("/api/v1/configmaps" + q))
    at = secs["metadata"]["resourceVersion"]
    bundles = {c["metadata"]["namespace"]: c.get("data", {}).get("root-cert.pem", "")
               for c in cms["items"] if c["metadata"]["name"] == "istio-ca-root-cert"}
    fails, n = [], 0
    roots = set()
    for ns in NS:
        if ns not in bundles:
            fails.append("%s: no ConfigMap istio-ca-root-cert" % ns)
            continue
        k = bundles[ns].count("BEGIN CERTIFICATE")
        roots.add(k)
        if "want-roots" in opts and k != int(opts["want-roots"]):
            fails.append("%s: bundle has %d roots, want %s" % (ns, k, opts["want-roots"]))
    for s in secs["items"]:
        md = s["metadata"]
        if md["namespace"] not in NS or s.get("type") != "istio.io/key-and-cert":
            continue
        n += 1
        d = s.get("data", {})
        try:
            chain = b64(d["cert-chain.pem"])
        except Exception as e:  # noqa
            fails.append("%s/%s: unreadable (%s)" % (md["namespace"], md["name"], e))
            continue
        ok, san, msg = verify(chain, bundles.get(md["namespace"], ""))
        sa = md.get("annotations", {}).get("istio.io/service-account.name", "?")
        want = "URI:spiffe://%s/ns/%s/sa/%s" % (TD, md["namespace"], sa)
        if not ok:
            fails.append("%s/%s: does not verify: %s" % (md["namespace"], md["name"], msg))
        elif want not in san:
            fails.append("%s/%s: SAN %r, want %s" % (md["namespace"], md["name"], san.strip(), want))
    line = "rv=%s secrets=%d roots=%s" % (at, n, ",".join(str(r) for r in sorted(roots)))
    if fails:
        print(line + " FAIL: " + "; ".join(fails))
        return False
    print(line + " ok")
    return True


def changes(frm):
    rvs = set()
    for res in ("secrets", "configmaps"):
        body = get("/api/v1/%s?watch=1&resourceVersion=%s&timeoutSeconds=1" % (res, frm))
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            ev = json.loads(line)
            if ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
                rvs.add(int(ev["object"]["metadata"]["resourceVersion"]))
    return sorted(rvs)


good = True
if "replay" in opts:
    rvs = changes(opts["replay"])
    print("replaying %d states" % len(rvs))
    for rv in rvs:
        good = check(rv) and good
else:
    good = check(opts.get("rv"))
sys.exit(0 if good else 1)
