#!/usr/bin/python3
"""API-level tests of the emulator with a plain HTTPS client (http.client) and a tiny HTTPS
admission webhook with its own test CA. Run by e2e/t_apiserver_api.sh:
    apitest.py WORKDIR ROOT
Starts the emulator itself, stops it with SIGTERM at the end (exit status checked)."""

import http.client
import os
import signal
import ssl
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apitest_lib as L  # noqa: E402
from apitest_lib import Client, check, fault, wait  # noqa: E402
from apitest_admission import pod, start_hook, t_admission  # noqa: E402

L.setup(sys.argv[1], sys.argv[2])
WORK, ROOT = L.WORK, L.ROOT


def t_auth_discovery(cl):
    st, _, doc = cl.req("GET", "/api/v1/namespaces", token=False)
    check("no token -> 401 Unauthorized Status", st == 401 and doc.get("reason") == "Unauthorized",
          (st, doc))
    st, _, doc = cl.req("GET", "/api/v1/namespaces", token="wrong")
    check("bad token -> 401", st == 401, st)
    st, _, doc = cl.req("GET", "/healthz", token=False)
    check("/healthz without token -> ok", st == 200 and doc == "ok", (st, doc))
    st, _, doc = cl.req("GET", "/version")
    check("/version reports 1.30", st == 200 and doc["minor"] == "30", doc)
    st, _, doc = cl.req("GET", "/apis/apps/v1")
    res = {r["name"]: r for r in doc.get("resources", [])}
    check("apps/v1 discovery lists deployments and deployments/status",
          "deployments" in res and "deployments/status" in res and "watch" in
          res["deployments"]["verbs"], doc)
    st, _, doc = cl.req("GET", "/openapi/v3")
    check("/openapi/v3 indexes api/v1 and apis/apps/v1",
          "api/v1" in doc.get("paths", {}) and "apis/apps/v1" in doc["paths"], doc)
    st, _, _ = cl.req("GET", "/openapi/v2")
    check("/openapi/v2 -> 404", st == 404, st)
    st, _, _ = cl.req("GET", "/api/v1/namespaces", headers={
        "Accept": "application/vnd.kubernetes.protobuf"})
    check("protobuf-only Accept -> 406", st == 406, st)


def t_crud(cl):
    base = "/api/v1/namespaces/default/configmaps"
    st, _, a = cl.req("POST", base, {"metadata": {"name": "c1"}, "data": {"k": "v"}})
    check("create -> 201 with uid, creationTimestamp, resourceVersion",
          st == 201 and a["metadata"].get("uid") and a["metadata"]["creationTimestamp"].endswith(
              "Z") and a["metadata"]["resourceVersion"], (st, a))
    st, _, doc = cl.req("POST", base, {"metadata": {"name": "c1"}})
    check("create again -> 409 AlreadyExists", st == 409 and doc["reason"] == "AlreadyExists" and
          doc["details"] == {"name": "c1", "kind": "configmaps"}, doc)
    st, _, doc = cl.req("POST", base, {"metadata": {}})
    check("create without a name -> 422 Invalid (metadata.name)", st == 422 and
          doc["reason"] == "Invalid" and doc["details"]["causes"][0]["field"] == "metadata.name",
          doc)
    st, _, doc = cl.req("POST", "/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}})
    check("create in a missing namespace -> 404 namespaces not found", st == 404 and
          doc["message"] == 'namespaces "nope" not found', doc)
    st, _, doc = cl.req("POST", base, {"metadata": {"name": "x", "namespace": "other"}})
    check("namespace mismatch -> 400", st == 400 and doc["reason"] == "BadRequest", doc)
    st, _, g = cl.req("POST", base, {"metadata": {"generateName": "gen-"}})
    n = g["metadata"]["name"]
    check("generateName -> prefix + 5 chars", st == 201 and n.startswith("gen-") and len(n) == 9,
          n)
    st, _, s = cl.req("POST", "/api/v1/namespaces/default/secrets",
                      {"metadata": {"name": "s1"}, "stringData": {"a": "b"}})
    check("one global resourceVersion counter across kinds",
          int(s["metadata"]["resourceVersion"]) > int(g["metadata"]["resourceVersion"]) >
          int(a["metadata"]["resourceVersion"]), (a, g, s))
    check("secret stringData folded into data", s.get("data") == {"a": "Yg=="} and
          s.get("type") == "Opaque", s)
    stale = dict(a, data={"k": "stale"})
    st, _, cur = cl.req("PUT", base + "/c1", dict(a, data={"k": "v2"}))
    check("update with current resourceVersion -> 200", st == 200 and cur["data"]["k"] == "v2"
          and cur["metadata"]["resourceVersion"] != a["metadata"]["resourceVersion"], cur)
    st, _, doc = cl.req("PUT", base + "/c1", stale)
    check("update with a stale resourceVersion -> 409 Conflict", st == 409 and
          doc["reason"] == "Conflict" and "the object has been modified" in doc["message"], doc)
    st, _, doc = cl.req("PUT", base + "/c1", {"metadata": {"name": "c1"}, "data": {"k": "v3"}})
    check("unconditional update (no resourceVersion) of a ConfigMap -> 200", st == 200, doc)
    st, _, same = cl.req("PUT", base + "/c1", doc)
    check("no-op update keeps the resourceVersion",
          same["metadata"]["resourceVersion"] == doc["metadata"]["resourceVersion"], same)
    st, _, doc = cl.req("PATCH", base + "/c1", {"data": {"k": "p"}}, "text/plain")
    check("unknown patch type -> 415", st == 415 and doc["reason"] == "UnsupportedMediaType", doc)
    st, _, doc = cl.req("PATCH", base + "/c1", {"metadata": {"resourceVersion": "1"},
                                                "data": {"k": "p"}},
                        "application/merge-patch+json")
    check("patch with a stale resourceVersion precondition -> 409", st == 409, doc)
    st, _, doc = cl.req("POST", base + "/c1", {})
    check("POST on an item -> 405 MethodNotAllowed", st == 405 and
          doc["reason"] == "MethodNotAllowed", (st, doc))
    st, _, doc = cl.req("GET", "/api/v1/namespaces/default/configmaps/missing")
    check("get missing -> 404 NotFound with details", st == 404 and doc["reason"] == "NotFound"
          and doc["details"]["name"] == "missing", doc)


def t_status_subresource(cl):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.test.io"},
           "spec": {"group": "test.io", "scope": "Namespaced",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}}
    st, _, _ = cl.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    check("create CRD", st == 201, st)
    st, _, doc = cl.req("GET", "/apis/test.io/v1")
    check("CRD group served in discovery", st == 200 and doc["resources"][0]["name"] ==
          "gadgets", doc)
    st, _, doc = cl.req("GET", "/apis")
    check("CRD group listed in /apis", any(g["name"] == "test.io" for g in doc["groups"]), doc)
    base = "/apis/test.io/v1/namespaces/default/gadgets"
    st, _, g = cl.req("POST", base, {"apiVersion": "test.io/v1", "kind": "Gadget",
                                     "metadata": {"name": "g1"}, "spec": {"n": 1},
                                     "status": {"phase": "ignored"}})
    check("CR create drops status (status subresource)", st == 201 and "status" not in g and
          g["metadata"]["generation"] == 1, g)
    st, _, doc = cl.req("PUT", base + "/g1", dict(g, status={"phase": "main"},
                                                  metadata=dict(g["metadata"],
                                                                resourceVersion="")))
    check("CR PUT without resourceVersion -> 422", st == 422, (st, doc))
    g2 = dict(g, spec={"n": 2}, status={"phase": "main"})
    st, _, doc = cl.req("PUT", base + "/g1", g2)
    check("PUT on the main resource ignores status, bumps generation on spec change",
          st == 200 and "status" not in doc and doc["metadata"]["generation"] == 2, doc)
    st, _, doc2 = cl.req("PUT", base + "/g1/status", dict(doc, spec={"n": 99},
                                                          status={"phase": "Ready"}))
    check("PUT on /status changes only status, no generation bump",
          st == 200 and doc2["status"] == {"phase": "Ready"} and doc2["spec"] == {"n": 2} and
          doc2["metadata"]["generation"] == 2, doc2)
    st, _, doc = cl.req("PATCH", base + "/g1", {"spec": {"n": 3}},
                        "application/strategic-merge-patch+json")
    check("strategic merge patch on a CR -> 415", st == 415, (st, doc))
    st, _, doc = cl.req("GET", "/apis/test.io/v1/namespaces/default/gadgets/g1/scale")
    check("undeclared scale subresource -> 404", st == 404, st)


def t_schema(cl):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "dials.test.io"},
           "spec": {"group": "test.io", "scope": "Cluster",
                    "names": {"plural": "dials", "singular": "dial", "kind": "Dial"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {
                            "spec": {"type": "object", "required": ["size"], "properties": {
                                "size": {"type": "integer", "minimum": 1},
                                "mode": {"type": "string", "enum": ["a", "b"],
                                         "default": "a"},
                                "free": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}}}}}}}]}}
    st, _, _ = cl.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    base = "/apis/test.io/v1/dials"
    st, _, d = cl.req("POST", base, {"apiVersion": "test.io/v1", "kind": "Dial",
                                     "metadata": {"name": "d1"},
                                     "spec": {"size": 2, "extra": 1, "free": {"x": {"y": 1}}}})
    check("cluster-scoped CR: unknown fields pruned, defaults applied, preserved subtree kept",
          st == 201 and d["spec"] == {"size": 2, "mode": "a", "free": {"x": {"y": 1}}}, (st, d))
    st, _, doc = cl.req("POST", base + "?fieldValidation=Strict", {
        "apiVersion": "test.io/v1", "kind": "Dial", "metadata": {"name": "d2"},
        "spec": {"size": 2, "extra": 1}})
    check("fieldValidation=Strict: unknown field -> 400", st == 400 and
          'unknown field "spec.extra"' in doc["message"], (st, doc))
    st, _, doc = cl.req("POST", base, {"apiVersion": "test.io/v1", "kind": "Dial",
                                       "metadata": {"name": "d3"},
                                       "spec": {"size": "big", "mode": "c"}})
    causes = sorted(c["field"] for c in doc.get("details", {}).get("causes", []))
    check("schema violations -> 422 Invalid with causes (type, enum)", st == 422 and
          causes == ["spec.mode", "spec.size"], (st, doc))
    st, _, doc = cl.req("POST", base, {"apiVersion": "test.io/v1", "kind": "Dial",
                                       "metadata": {"name": "d4"}, "spec": {}})
    check("required field missing -> 422", st == 422 and "spec.size" in doc["message"],
          (st, doc))
    st, _, doc = cl.req("PATCH", base + "/d1", {"spec": {"size": 0}},
                        "application/merge-patch+json")
    check("minimum enforced on update", st == 422, (st, doc))


def t_list(cl):
    base = "/api/v1/namespaces/default/configmaps"
    for i, labels in enumerate([{"app": "a", "tier": "x"}, {"app": "b", "tier": "y"},
                                {"app": "c"}, {"app": "a"}, {"other": "1"}]):
        cl.req("POST", base, {"metadata": {"name": "l%d" % i, "labels": labels}})

    def names(sel):
        st, _, doc = cl.req("GET", base + "?labelSelector=" + sel.replace(" ", "%20"))
        return sorted(o["metadata"]["name"] for o in doc["items"]) if st == 200 else st
    check("labelSelector =", names("app=a") == ["l0", "l3"], names("app=a"))
    check("labelSelector ==", names("app==b") == ["l1"], names("app==b"))
    check("labelSelector !=", names("app!=a,app") == ["l1", "l2"], names("app!=a,app"))
    check("labelSelector in", names("app in (b,c)") == ["l1", "l2"], names("app in (b,c)"))
    check("labelSelector notin (absent key matches)", names("tier notin (x)") ==
          sorted(n for n in names("") if n not in ("l0",)), names("tier notin (x)"))
    check("labelSelector exists", names("tier") == ["l0", "l1"], names("tier"))
    check("labelSelector !key", "l0" not in names("!tier") and "l2" in names("!tier"),
          names("!tier"))
    check("labelSelector syntax error -> 400", names("a in (") == 400, names("a in ("))
    st, _, doc = cl.req("GET", base + "?fieldSelector=metadata.name%3Dl2")
    check("fieldSelector metadata.name", [o["metadata"]["name"] for o in doc["items"]] == ["l2"],
          doc)
    st, _, doc = cl.req("GET", "/api/v1/configmaps?fieldSelector=metadata.namespace%3Dkube-system")
    check("fieldSelector metadata.namespace across namespaces",
          {o["metadata"]["namespace"] for o in doc["items"]} == {"kube-system"}, doc)
    st, _, doc = cl.req("GET", base + "?fieldSelector=spec.foo%3Dbar")
    check("unsupported field -> 400 field label not supported", st == 400 and
          "field label not supported: spec.foo" in doc["message"], doc)
    st, _, full = cl.req("GET", base)
    pages, cont, rvs = [], "", set()
    for _ in range(20):
        st, _, doc = cl.req("GET", base + "?limit=2" + ("&continue=" + cont if cont else ""))
        pages.append([o["metadata"]["name"] for o in doc["items"]])
        rvs.add(doc["metadata"]["resourceVersion"])
        if doc["metadata"].get("continue") and len(pages) == 1:
            cl.req("POST", base, {"metadata": {"name": "zz-during-paging"}})
        cont = doc["metadata"].get("continue", "")
        if not cont:
            break
    flat = [n for p in pages for n in p]
    check("limit/continue pages are a consistent snapshot with one resourceVersion",
          flat == [o["metadata"]["name"] for o in full["items"]] and len(rvs) == 1 and
          all(len(p) <= 2 for p in pages), (pages, rvs))
    st, _, doc = cl.req("GET", base + "?limit=1")
    check("remainingItemCount on a paged list", doc["metadata"].get("remainingItemCount") ==
          len(full["items"]), doc["metadata"])
    tok = doc["metadata"]["continue"]
    st, _, doc = cl.req("GET", base + "?limit=1&continue=garbage!")
    check("malformed continue -> 400", st == 400, st)
    fault(cl, {"action": "compact"})
    st, _, doc = cl.req("GET", base + "?limit=1&continue=" + tok)
    check("continue after compaction -> 410 Expired", st == 410 and doc["reason"] == "Expired",
          (st, doc))
    st, _, doc = cl.req("GET", "/api/v1/namespaces/default/configmaps?resourceVersion=99999999")
    check("list at a future resourceVersion -> 504 ResourceVersionTooLarge", st == 504 and
          doc["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge", (st, doc))


def t_watch(cl):
    base = "/api/v1/namespaces/default/configmaps"
    st, _, lst = cl.req("GET", base)
    rv = lst["metadata"]["resourceVersion"]
    res = {}

    def bg():
        res["w"] = cl.watch(base + "?watch=1&resourceVersion=" + rv,
                            until=lambda ev: len(ev) >= 3, secs=8)
    t = threading.Thread(target=bg)
    t.start()
    time.sleep(0.3)
    cl.req("POST", base, {"metadata": {"name": "w1"}})
    cl.req("PATCH", base + "/w1", {"data": {"x": "1"}}, "application/merge-patch+json")
    cl.req("DELETE", base + "/w1")
    t.join()
    _, evs, _ = res["w"]
    check("watch from the list RV: ADDED, MODIFIED, DELETED in order",
          [(e["type"], e["object"]["metadata"]["name"]) for e in evs] ==
          [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")], evs)
    check("watch event RVs increase", len(evs) == 3 and int(evs[0]["object"]["metadata"][
        "resourceVersion"]) < int(evs[1]["object"]["metadata"]["resourceVersion"]) <
        int(evs[2]["object"]["metadata"]["resourceVersion"]), evs)
    _, evs, _ = cl.watch(base + "?watch=1&fieldSelector=metadata.name%3Dl2", secs=1.0)
    check("watch without RV starts with ADDED for current matches",
          [e["type"] for e in evs] == ["ADDED"] and evs[0]["object"]["metadata"]["name"] == "l2",
          evs)
    _, evs, _ = cl.watch(base + "?watch=1&resourceVersion=" + rv, secs=2.5)
    check("no BOOKMARK unless allowWatchBookmarks", not any(e["type"] == "BOOKMARK"
                                                            for e in evs), evs)
    _, evs, _ = cl.watch(base + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + rv,
                         until=lambda ev: any(e["type"] == "BOOKMARK" for e in ev), secs=4)
    bm = [e for e in evs if e["type"] == "BOOKMARK"]
    check("BOOKMARK with allowWatchBookmarks=true (kind + resourceVersion only)",
          bm and bm[0]["object"]["kind"] == "ConfigMap" and
          int(bm[0]["object"]["metadata"]["resourceVersion"]) >= int(rv), evs)
    st, _, doc = cl.req("GET", base + "?watch=1&sendInitialEvents=true&resourceVersionMatch="
                        "NotOlderThan&allowWatchBookmarks=true")
    check("sendInitialEvents -> 400", st == 400, (st, doc))
    t0 = time.monotonic()
    _, evs, eof = cl.watch(base + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv, secs=5)
    check("timeoutSeconds ends the stream cleanly", eof and 0.8 < time.monotonic() - t0 < 3,
          (eof, time.monotonic() - t0))
    # selector transitions
    cl.req("POST", base, {"metadata": {"name": "sel1", "labels": {"w": "yes"}}})
    st, _, cur = cl.req("GET", base)
    rv2 = cur["metadata"]["resourceVersion"]

    def bg2():
        res["s"] = cl.watch(base + "?watch=1&labelSelector=w%3Dyes&resourceVersion=" + rv2,
                            until=lambda ev: len(ev) >= 2, secs=6)
    t = threading.Thread(target=bg2)
    t.start()
    time.sleep(0.3)
    cl.req("PATCH", base + "/sel1", {"metadata": {"labels": {"w": "no"}}},
           "application/merge-patch+json")
    cl.req("PATCH", base + "/sel1", {"metadata": {"labels": {"w": "yes"}}},
           "application/merge-patch+json")
    t.join()
    _, evs, _ = res["s"]
    check("label-selected watch: leaving -> DELETED, re-entering -> ADDED",
          [e["type"] for e in evs] == ["DELETED", "ADDED"], evs)
    # 410
    old_rv = rv
    fault(cl, {"action": "compact"})
    _, evs, eof = cl.watch(base + "?watch=1&resourceVersion=" + old_rv, secs=3)
    check("watch from a compacted RV -> in-stream ERROR 410 Expired",
          len(evs) == 1 and evs[0]["type"] == "ERROR" and evs[0]["object"]["code"] == 410 and
          evs[0]["object"]["reason"] == "Expired" and eof, evs)
    fault(cl, {"action": "gone-mode", "mode": "http"})
    st, evs, _ = cl.watch(base + "?watch=1&resourceVersion=" + old_rv, secs=3)
    check("gone-mode http -> HTTP 410", st == 410 and evs[0]["reason"] == "Expired", (st, evs))
    fault(cl, {"action": "gone-mode", "mode": "event"})
    st, _, cur = cl.req("GET", base)
    _, evs, _ = cl.watch(base + "?watch=1&resourceVersion=" + cur["metadata"]["resourceVersion"],
                         secs=0.5)
    check("watch from the current RV after compaction is fine", evs == [], evs)
    _, evs, _ = cl.watch("/api/v1/watch/namespaces/default/configmaps/l2", secs=1)
    check("legacy /watch/ item path", [e["type"] for e in evs] == ["ADDED"], evs)


def t_watch_consistency(cl):
    """Concurrent writers; a watch from a list's RV must reproduce the final list exactly."""
    import random
    cl.req("POST", "/api/v1/namespaces", {"metadata": {"name": "race"}})
    base = "/api/v1/namespaces/race/configmaps"
    st, _, lst = cl.req("GET", base)
    state = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in lst["items"]}
    res = {}

    def watcher():
        res["w"] = cl.watch(base + "?watch=1&resourceVersion=" +
                            lst["metadata"]["resourceVersion"], until=lambda ev: any(
                                e["object"]["metadata"]["name"] == "done" for e in ev), secs=30)

    def writer(seed):
        r = random.Random(seed)
        for _ in range(40):
            n = "k%d" % r.randrange(8)
            op = r.randrange(3)
            if op == 0:
                cl.req("POST", base, {"metadata": {"name": n}, "data": {"v": str(seed)}})
            elif op == 1:
                cl.req("PATCH", base + "/" + n, {"data": {"v": str(r.random())}},
                       "application/merge-patch+json")
            else:
                cl.req("DELETE", base + "/" + n)
    w = threading.Thread(target=watcher)
    w.start()
    time.sleep(0.3)
    ws = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in ws:
        t.start()
    for t in ws:
        t.join()
    cl.req("POST", base, {"metadata": {"name": "done"}})
    w.join()
    last = 0
    ordered = True
    for e in res["w"][1]:
        md = e["object"]["metadata"]
        rv = int(md["resourceVersion"])
        ordered = ordered and rv > last
        last = rv
        if e["type"] == "DELETED":
            state.pop(md["name"], None)
        else:
            state[md["name"]] = md["resourceVersion"]
    st, _, fin = cl.req("GET", base)
    want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in fin["items"]}
    check("watch under 4 concurrent writers: strictly increasing RVs, replay == final list",
          ordered and state == want, (ordered, state, want))


def t_finalizers_gc(cl):
    base = "/api/v1/namespaces/default/configmaps"
    cl.req("POST", base, {"metadata": {"name": "fin", "finalizers": ["example.com/hold"]}})
    st, _, doc = cl.req("DELETE", base + "/fin")
    check("delete with a finalizer -> 200 with deletionTimestamp", st == 200 and
          doc["metadata"].get("deletionTimestamp") and doc["kind"] == "ConfigMap", doc)
    st, _, doc = cl.req("GET", base + "/fin")
    check("object still readable while finalizers remain", st == 200, st)
    st, _, doc = cl.req("PATCH", base + "/fin", {"metadata": {"finalizers": [
        "example.com/hold", "example.com/new"]}}, "application/merge-patch+json")
    check("no new finalizers once deleting -> 422", st == 422, (st, doc))
    res = {}
    rv = doc and cl.req("GET", base)[2]["metadata"]["resourceVersion"]

    def bg():
        res["w"] = cl.watch(base + "?watch=1&resourceVersion=" + rv,
                            until=lambda ev: any(e["type"] == "DELETED" for e in ev), secs=6)
    t = threading.Thread(target=bg)
    t.start()
    time.sleep(0.3)
    st, _, doc = cl.req("PATCH", base + "/fin", [{"op": "remove", "path": "/metadata/finalizers"}],
                        "application/json-patch+json")
    t.join()
    st, _, _ = cl.req("GET", base + "/fin")
    check("removing the last finalizer deletes the object", st == 404, st)
    check("watch sees DELETED after the finalizer is removed",
          any(e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "fin"
              for e in res["w"][1]), res["w"])
    st, _, sa = cl.req("POST", "/api/v1/namespaces/default/serviceaccounts",
                       {"metadata": {"name": "robot"}})
    ref = {"apiVersion": "v1", "kind": "ServiceAccount", "name": "robot",
           "uid": sa["metadata"]["uid"]}
    cl.req("POST", "/api/v1/namespaces/default/secrets",
           {"metadata": {"name": "istio.robot", "ownerReferences": [ref]},
            "type": "istio.io/key-and-cert", "data": {"key.pem": "eA=="}})
    cl.req("DELETE", "/api/v1/namespaces/default/serviceaccounts/robot")
    gone = wait(lambda: cl.req("GET", "/api/v1/namespaces/default/secrets/istio.robot")[0] ==
                404, 5)
    check("Secret owned by a ServiceAccount is garbage-collected with it", gone)
    st, _, owner = cl.req("POST", base, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
           "uid": owner["metadata"]["uid"]}
    cl.req("POST", base, {"metadata": {"name": "dep", "ownerReferences": [ref]}})
    cl.req("DELETE", base + "/owner", {"propagationPolicy": "Orphan"})
    ok = wait(lambda: cl.req("GET", base + "/owner")[0] == 404, 5)
    st, _, dep = cl.req("GET", base + "/dep")
    check("propagationPolicy Orphan keeps dependents and drops their ownerReferences",
          ok and st == 200 and not dep["metadata"].get("ownerReferences"), dep)
    # namespace termination
    cl.req("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    cl.req("POST", "/api/v1/namespaces/doomed/configmaps",
           {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    cl.req("POST", "/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "plain"}})
    st, _, doc = cl.req("DELETE", "/api/v1/namespaces/doomed")
    check("namespace delete -> Terminating", st == 200 and doc["status"]["phase"] ==
          "Terminating", doc)
    wait(lambda: cl.req("GET", "/api/v1/namespaces/doomed/configmaps/plain")[0] == 404, 5)
    st, _, doc = cl.req("POST", "/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "n"}})
    check("create in a terminating namespace -> 403 NamespaceTerminating", st == 403 and
          doc["details"]["causes"][0]["reason"] == "NamespaceTerminating", (st, doc))
    st, _, doc = cl.req("GET", "/api/v1/namespaces/doomed")
    check("namespace waits for content with finalizers", st == 200, st)
    cl.req("PATCH", "/api/v1/namespaces/doomed/configmaps/held", {"metadata": {
        "finalizers": None}}, "application/merge-patch+json")
    check("namespace removed once empty",
          wait(lambda: cl.req("GET", "/api/v1/namespaces/doomed")[0] == 404, 5))


def t_tokens(cl):
    st, _, doc = cl.req("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                         "spec": {"token": cl.token}})
    check("TokenReview of the admin token", st == 201 and doc["status"]["authenticated"] is True
          and doc["status"]["user"]["username"] == "kubernetes-admin", doc)
    st, _, doc = cl.req("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                        {"spec": {"token": "garbage"}})
    check("TokenReview of garbage -> authenticated false", doc["status"]["authenticated"] is
          False, doc)
    st, _, doc = cl.req("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                        {"spec": {"expirationSeconds": 3600}})
    tok = doc["status"]["token"]
    st2, _, _ = cl.req("GET", "/api/v1/namespaces/default/configmaps", token=tok)
    st3, _, rev = cl.req("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                         {"spec": {"token": tok}})
    check("ServiceAccount token works and reviews as system:serviceaccount:default:default",
          st == 201 and st2 == 200 and rev["status"]["user"]["username"] ==
          "system:serviceaccount:default:default", (st, st2, rev))


def t_client_cert(cl):
    r = fault(cl, {"action": "issue-client-cert", "user": "alice", "groups": ["devs"]})
    with open(os.path.join(WORK, "alice.crt"), "w") as f:
        f.write(r["certificate"])
    with open(os.path.join(WORK, "alice.key"), "w") as f:
        f.write(r["key"])
    ctx = ssl.create_default_context(cafile=os.path.join(WORK, "ca.crt"))
    ctx.load_cert_chain(os.path.join(WORK, "alice.crt"), os.path.join(WORK, "alice.key"))
    c = http.client.HTTPSConnection("127.0.0.1", cl.port, context=ctx, timeout=10)
    c.request("GET", "/api/v1/namespaces/default/configmaps", headers={"Accept":
                                                                       "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    check("client certificate (CN=user, O=groups) authenticates", r.status == 200, r.status)


def t_faults(cl):
    path = "/api/v1/namespaces/default/configmaps"
    fault(cl, {"action": "fail", "code": 429, "count": 2, "retryAfter": 3, "path": "/configmaps"})
    r1 = cl.req("GET", path)
    r2 = cl.req("GET", path)
    r3 = cl.req("GET", path)
    check("fault 429 with Retry-After for the next 2 matching requests",
          r1[0] == 429 and r1[1].getheader("Retry-After") == "3" and r1[2]["reason"] ==
          "TooManyRequests" and r1[2]["details"]["retryAfterSeconds"] == 3 and r2[0] == 429 and
          r3[0] == 200, (r1[0], r2[0], r3[0]))
    fault(cl, {"action": "fail", "code": 500, "percent": 50, "seconds": 30, "path": "/secrets"})
    codes = [cl.req("GET", "/api/v1/namespaces/default/secrets")[0] for _ in range(40)]
    fault(cl, {"action": "clear"})
    check("fault 500 for ~50% of requests", 5 <= codes.count(500) <= 35 and
          codes.count(200) + codes.count(500) == 40, codes)
    fault(cl, {"action": "delay", "delayMs": 400, "count": 1, "path": "/configmaps"})
    t0 = time.monotonic()
    cl.req("GET", path)
    check("delay fault", time.monotonic() - t0 >= 0.4, time.monotonic() - t0)
    res = {}

    def bg():
        res["w"] = cl.watch(path + "?watch=1", secs=6)
    t = threading.Thread(target=bg)
    t.start()
    time.sleep(0.5)
    n = fault(cl, {"action": "drop-watches"})["dropped"]
    t.join()
    check("drop-watches ends open watches", n >= 1 and res["w"][2], (n, res["w"][2]))
    res2 = {}

    def frozen():
        res2["w"] = cl.watch(path + "?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                             cl.req("GET", path)[2]["metadata"]["resourceVersion"],
                             until=lambda ev: any(e["type"] == "ADDED" for e in ev), secs=8)
        res2["t"] = time.monotonic()
    t = threading.Thread(target=frozen)
    t.start()
    time.sleep(0.5)
    fault(cl, {"action": "freeze-watches", "seconds": 2.5})
    t0 = time.monotonic()
    cl.req("POST", path, {"metadata": {"name": "during-freeze"}})
    t.join()
    evs = res2["w"][1]
    check("freeze-watches: nothing (not even bookmarks) until the freeze ends, then the event",
          res2["t"] - t0 >= 2.0 and evs and evs[-1]["type"] == "ADDED", (res2["t"] - t0, evs))
    cl.req("POST", path, {"metadata": {"name": "survivor"}})
    t = threading.Thread(target=bg)
    t.start()
    time.sleep(0.5)
    fault(cl, {"action": "restart", "downSeconds": 0.5})
    t.join()
    check("restart closes connections", res["w"][2], res["w"])
    time.sleep(0.7)
    st, _, _ = cl.req("GET", path + "/survivor")
    check("restart keeping state", st == 200, st)
    fault(cl, {"action": "restart", "wipe": True})
    time.sleep(0.5)
    st, _, _ = cl.req("GET", path + "/survivor")
    st2, _, _ = cl.req("GET", "/api/v1/namespaces/default/serviceaccounts/default")
    check("restart losing state (default namespace re-created)", st == 404 and st2 == 200,
          (st, st2))


def t_controllers(cl):
    cl.req("POST", "/api/v1/namespaces", {"metadata": {"name": "ctl"}})
    base = "/api/v1/namespaces/ctl"
    cl.req("POST", base + "/services", {"metadata": {"name": "svc"}, "spec": {
        "selector": {"app": "be"}, "ports": [{"name": "http", "port": 80,
                                              "targetPort": "web"}]}})
    for n, ann in (("be-1", {}), ("be-2", {"emulator.mizzen.io/not-ready": "true"})):
        p = pod(n, {"app": "be"})
        p["metadata"]["annotations"] = ann
        p["spec"]["containers"][0]["ports"] = [{"name": "web", "containerPort": 9090}]
        cl.req("POST", base + "/pods", p)

    def ep():
        st, _, e = cl.req("GET", base + "/endpoints/svc")
        ss = (e.get("subsets") or [{}])[0] if st == 200 else {}
        return ss if ss.get("addresses") and ss.get("notReadyAddresses") else None
    ss = wait(ep, 5) or {}
    check("Endpoints: ready pod in addresses, not-ready pod in notReadyAddresses, named port",
          len(ss.get("addresses", [])) == 1 and len(ss.get("notReadyAddresses", [])) == 1 and
          ss.get("ports") == [{"port": 9090, "protocol": "TCP", "name": "http"}], ss)
    st, _, sl = cl.req("GET", "/apis/discovery.k8s.io/v1/namespaces/ctl/endpointslices"
                       "?labelSelector=kubernetes.io/service-name%3Dsvc")
    eps = sl["items"][0]["endpoints"] if sl.get("items") else []
    check("EndpointSlice with ready conditions", len(eps) == 2 and sorted(
        e["conditions"]["ready"] for e in eps) == [False, True] and
        sl["items"][0]["ports"][0]["port"] == 9090, sl)
    st, _, p2 = cl.req("GET", base + "/pods/be-2")
    check("pod IP from --pod-cidr, hostIP 127.0.0.1, Running, Ready false when annotated",
          p2["status"]["podIP"].startswith("127.1.") and p2["status"]["hostIP"] == "127.0.0.1"
          and p2["status"]["phase"] == "Running" and
          [c["status"] for c in p2["status"]["conditions"] if c["type"] == "Ready"] == ["False"],
          p2["status"])
    cl.req("PATCH", base + "/pods/be-2", {"metadata": {"annotations": {
        "emulator.mizzen.io/not-ready": None}}}, "application/merge-patch+json")
    ok = wait(lambda: len((cl.req("GET", base + "/endpoints/svc")[2].get("subsets") or [{}])[0]
                          .get("addresses", [])) == 2, 5)
    check("removing the not-ready annotation makes the pod a ready endpoint", ok)
    st, _, doc = cl.req("DELETE", base + "/pods/be-1")
    check("pod delete is graceful (deletionTimestamp, grace 30)", st == 200 and
          doc["metadata"].get("deletionGracePeriodSeconds") == 30, doc)
    check("the kubelet finishes the deletion",
          wait(lambda: cl.req("GET", base + "/pods/be-1")[0] == 404, 5))
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
           "spec": {"completions": 2, "parallelism": 1, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    st, _, j = cl.req("POST", "/apis/batch/v1/namespaces/ctl/jobs", job)
    check("Job gets a generated selector", st == 201 and "batch.kubernetes.io/controller-uid" in
          j["spec"]["selector"]["matchLabels"], j)
    done = wait(lambda: cl.req("GET", "/apis/batch/v1/namespaces/ctl/jobs/once")[2].get(
        "status", {}).get("succeeded") == 2, 10)
    check("Job runs its pods to completion", done)
    r = fault(cl, {"action": "bulk-create", "namespace": "ctl", "count": 1200,
                   "namePrefix": "bulk-", "object": {"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"labels": {"b": "1"}}}})
    n, cont, pages = 0, "", 0
    while True:
        st, _, doc = cl.req("GET", base + "/configmaps?labelSelector=b%3D1&limit=500" +
                            ("&continue=" + cont if cont else ""))
        n += len(doc["items"])
        pages += 1
        cont = doc["metadata"].get("continue")
        if not cont:
            break
    check("bulk-create 1200 objects, listed in 3 pages of 500", r["created"] == 1200 and
          n == 1200 and pages == 3, (r, n, pages))


def start_emu(hook):
    port_file = os.path.join(WORK, "emu.out")
    out = open(port_file, "w")
    err = open(os.path.join(WORK, "emu.err"), "a")
    emu = subprocess.Popen([os.path.join(ROOT, "e2e/apiserver/run"), "--port", "0",
                            "--kubeconfig-out", os.path.join(WORK, "kc"),
                            "--ca-out", os.path.join(WORK, "ca.crt"),
                            "--token-out", os.path.join(WORK, "token"),
                            "--state-file", os.path.join(WORK, "state.json"),
                            "--bookmark-interval", "1",
                            "--service-host", "hook.hooks.svc=127.0.0.1:%d" %
                            hook.server_address[1],
                            "--service-host", "hook.hooks.svc:8443=127.0.0.1:1"],
                           stdout=out, stderr=err)
    port = wait(lambda: (open(port_file).read().split(":")[-1].strip() or None), 15)
    if not port:
        emu.kill()
        raise SystemExit("emulator did not start")
    print("emulator pid %d on port %s" % (emu.pid, port), flush=True)
    return emu, Client(int(port), open(os.path.join(WORK, "token")).read())


def stop_emu(emu):
    emu.send_signal(signal.SIGTERM)
    try:
        return emu.wait(10)
    except subprocess.TimeoutExpired:
        emu.kill()
        emu.wait()
        return "hung"


def main():
    hook = start_hook()
    emu, cl = start_emu(hook)
    try:
        for t in (t_auth_discovery, t_crud, t_status_subresource, t_schema, t_list, t_watch, t_watch_consistency,
                  t_finalizers_gc, t_tokens, t_client_cert, t_controllers, t_admission, t_faults):
            print("--- " + t.__name__, flush=True)
            t(cl)
        print("--- state file", flush=True)
        st, _, kept = cl.req("POST", "/api/v1/namespaces/default/configmaps",
                             {"metadata": {"name": "persisted"}, "data": {"a": "1"}})
    finally:
        rc = stop_emu(emu)
    check("emulator exits 0 on SIGTERM", rc == 0, rc)
    emu, cl = start_emu(hook)
    try:
        st, _, doc = cl.req("GET", "/api/v1/namespaces/default/configmaps/persisted")
        st2, _, new = cl.req("POST", "/api/v1/namespaces/default/configmaps",
                             {"metadata": {"name": "after-restart"}})
        check("--state-file keeps objects and the resourceVersion counter across a restart",
              st == 200 and doc["metadata"]["uid"] == kept["metadata"]["uid"] and
              int(new["metadata"]["resourceVersion"]) > int(kept["metadata"]["resourceVersion"]),
              (st, doc, new))
    finally:
        rc = stop_emu(emu)
        hook.shutdown()
    check("restarted emulator exits 0 on SIGTERM", rc == 0, rc)
    errs = open(os.path.join(WORK, "emu.err")).read()
    check("emulator logged no internal errors", "Traceback" not in errs, errs[-2000:])
    print("%d check(s) failed" % len(L.FAILS) if L.FAILS else "all checks passed")
    return 1 if L.FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
