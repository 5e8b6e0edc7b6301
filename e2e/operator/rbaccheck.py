#!/usr/bin/python3
"""rbaccheck.py: is every request a user made (emulator --access-log) allowed
by the RBAC manifest? A small RBAC evaluator: ClusterRole rules apply
everywhere, Role rules in their namespace; resourceNames restrict get/update/
patch/delete by name and list/watch only with a matching metadata.name field
selector; create never matches a rule with resourceNames.

  rbaccheck.py MANIFEST ACCESS_LOG USER [USER...]
Prints denied requests and rules no request used; exits 1 if any denied.
"""
import json
import re
import sys

import yaml

manifest, log, users = sys.argv[1], sys.argv[2], set(sys.argv[3:])
rules = []  # (namespace or None, rule, label)
for doc in yaml.safe_load_all(open(manifest)):
    if not doc or doc["kind"] not in ("ClusterRole", "Role"):
        continue
    ns = doc["metadata"].get("namespace") if doc["kind"] == "Role" else None
    for i, r in enumerate(doc["rules"]):
        rules.append((ns, r, "%s/%s rule %d %s %s %s" % (
            doc["kind"], doc["metadata"]["name"], i, r["resources"], r["verbs"],
            r.get("resourceNames", ""))))

PATH = re.compile(r"^/(?:api/v1|apis/([^/]+)/[^/]+)(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?(?:/([^/]+))?$")


def parse(e):
    m = PATH.match(e["path"])
    if not m:
        return None
    group, ns, res, name, sub = m.groups()
    if res == "namespaces" and ns is None and name is None:
        pass
    q = e.get("query") or {}
    if isinstance(q, str):
        q = dict(kv.split("=", 1) for kv in q.split("&") if "=" in kv)
    if name is None and e["verb"] in ("list", "watch"):
        fs = q.get("fieldSelector", "")
        for part in fs.split(","):
            if part.startswith("metadata.name="):
                name = part.split("=", 1)[1]
    return group or "", ns, res + ("/" + sub if sub else ""), name, e["verb"]


used = set()
denied = []
for line in open(log):
    e = json.loads(line)
    if e.get("user") not in users:
        continue
    p = parse(e)
    if p is None:
        continue
    group, ns, res, name, verb = p
    ok = False
    for idx, (rns, r, label) in enumerate(rules):
        if rns is not None and rns != ns:
            continue
        if group not in r.get("apiGroups", []) or res not in r["resources"] or verb not in r["verbs"]:
            continue
        rn = r.get("resourceNames")
        if rn is not None and (verb == "create" or name not in rn):
            continue
        ok = True
        used.add(idx)
        break
    if not ok:
        denied.append("%s %s %s ns=%s name=%s (%s)" % (e["user"], verb, res, ns, name, e["path"]))
for d in sorted(set(denied)):
    print("DENIED", d)
for idx, (_, _, label) in enumerate(rules):
    if idx not in used:
        print("unused", label)
print("%d requests denied" % len(denied))
sys.exit(1 if denied else 0)
