"""Admission tests of the emulator: a tiny HTTPS webhook with its own test CA, and the
webhook-facing scenarios (rules, selectors, failure policies, timeouts, TLS, dry run)."""

import base64
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apitest_lib as L
from apitest_lib import check, fault, make_ca, make_leaf, wait


class Hook:
    mode = "label"
    reviews = []
    paths = []
    lock = threading.Lock()


class HookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        review = json.loads(body)
        with Hook.lock:
            Hook.reviews.append(review)
            Hook.paths.append(self.path)
        req = review["request"]
        mode = Hook.mode
        if mode == "sleep":
            time.sleep(2.5)
        if mode == "500":
            data = b"boom"
            self.send_response(500)
        else:
            resp = {"uid": req["uid"], "allowed": True}
            if mode == "deny":
                resp = {"uid": req["uid"], "allowed": False,
                        "status": {"code": 403, "reason": "Forbidden",
                                   "message": "pods must not run as root"}}
            elif mode in ("label", "sleep"):
                labels = req["object"]["metadata"].get("labels")
                ops = [{"op": "add", "path": "/metadata/labels", "value": {"injected": "yes"}}] \
                    if labels is None else [{"op": "add", "path": "/metadata/labels/injected",
                                             "value": "yes"}]
                ops.append({"op": "add", "path": "/metadata/annotations",
                            "value": {"hook.example.com/seen": "true"}}
                           if req["object"]["metadata"].get("annotations") is None else
                           {"op": "add", "path": "/metadata/annotations/hook.example.com~1seen",
                            "value": "true"})
                resp["patchType"] = "JSONPatch"
                resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
                resp["warnings"] = ["labelled by the test webhook"]
            elif mode == "baduid":
                resp["uid"] = "not-the-uid"
            data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                               "response": resp}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start_hook():
    make_ca("hookca")
    make_ca("otherca")
    make_leaf("hookca", "hook", "DNS:hook.hooks.svc")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(L.WORK, "hook.crt"), os.path.join(L.WORK, "hook.key"))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), HookHandler)
    srv.daemon_threads = True
    srv.handle_error = lambda *a: None  # the emulator hangs up on slow answers: expected
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ---------------- client ----------------

MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def mwc(name, policy="Fail", ca=None, timeout=5, port=443):
    ca = ca or open(os.path.join(L.WORK, "hookca.crt")).read()
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
            "webhooks": [{"name": "label.hooks.example.com", "admissionReviewVersions": ["v1"],
                          "sideEffects": "None", "failurePolicy": policy,
                          "timeoutSeconds": timeout,
                          "clientConfig": {"service": {"name": "hook", "namespace": "hooks",
                                                       "path": "/mutate", "port": port},
                                           "caBundle": base64.b64encode(ca.encode()).decode()},
                          "namespaceSelector": {"matchExpressions": [
                              {"key": "inject", "operator": "In", "values": ["enabled"]}]},
                          "objectSelector": {"matchExpressions": [
                              {"key": "skip", "operator": "DoesNotExist"}]},
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                     "apiVersions": ["v1"], "resources": ["pods"],
                                     "scope": "Namespaced"}]}]}


def pod(name, labels=None):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                     "readinessProbe": {"httpGet": {"port": 8080}}}]}}


def t_admission(cl):
    cl.req("POST", "/api/v1/namespaces", {"metadata": {"name": "adm",
                                                       "labels": {"inject": "enabled"}}})
    cl.req("POST", "/api/v1/namespaces", {"metadata": {"name": "plain"}})
    st, _, doc = cl.req("POST", MWC, mwc("hook"))
    check("create MutatingWebhookConfiguration (defaults applied)", st == 201 and
          doc["webhooks"][0]["matchPolicy"] == "Equivalent", (st, doc))
    pods = "/api/v1/namespaces/adm/pods"
    Hook.reviews.clear()
    st, r, p = cl.req("POST", pods, pod("p1"))
    check("pod CREATE through the webhook: label added by JSONPatch is stored",
          st == 201 and p["metadata"]["labels"].get("injected") == "yes" and
          p["metadata"]["annotations"].get("hook.example.com/seen") == "true", (st, p))
    check("webhook warnings become Warning headers",
          "labelled by the test webhook" in (r.getheader("Warning") or ""), r.getheader("Warning"))
    rv = Hook.reviews[-1] if Hook.reviews else {}
    req = rv.get("request", {})
    check("AdmissionReview v1 request fields", rv.get("apiVersion") == "admission.k8s.io/v1" and
          req.get("operation") == "CREATE" and req.get("namespace") == "adm" and
          req.get("kind") == {"group": "", "version": "v1", "kind": "Pod"} and
          req.get("resource") == {"group": "", "version": "v1", "resource": "pods"} and
          req.get("dryRun") is False and req.get("uid") and req.get("oldObject") is None and
          req.get("userInfo", {}).get("username") == "kubernetes-admin", req)
    c = req.get("object", {}).get("spec", {}).get("containers", [{}])[0]
    probe = c.get("readinessProbe", {})
    check("webhook sees API-server defaults (container, probe, pod spec)",
          c.get("terminationMessagePath") == "/dev/termination-log" and
          c.get("imagePullPolicy") == "IfNotPresent" and probe.get("timeoutSeconds") == 1 and
          probe.get("periodSeconds") == 10 and probe.get("httpGet", {}).get("scheme") == "HTTP"
          and req["object"]["spec"].get("restartPolicy") == "Always" and
          req["object"]["spec"].get("serviceAccountName") == "default", req.get("object"))
    check("webhook path carries ?timeout=5s", Hook.paths and Hook.paths[-1] ==
          "/mutate?timeout=5s", Hook.paths)
    st, _, p = cl.req("POST", "/api/v1/namespaces/plain/pods", pod("p2"))
    check("namespaceSelector: namespace without the label is not sent",
          st == 201 and "injected" not in (p["metadata"].get("labels") or {}), p)
    st, _, p = cl.req("POST", pods, pod("p3", {"skip": "true"}))
    check("objectSelector DoesNotExist honoured", st == 201 and "injected" not in
          p["metadata"]["labels"], p)
    Hook.reviews.clear()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    cl.req("POST", "/apis/apps/v1/namespaces/adm/deployments", dep)
    def running():
        ps = [p for p in cl.req("GET", pods + "?labelSelector=app%3Dweb")[2]["items"]
              if p["status"].get("phase") == "Running"]
        return ps if len(ps) == 2 else None
    got = wait(running, 10) or []
    check("Deployment -> ReplicaSet -> 2 Running pods, all mutated", len(got) == 2 and all(
        p["metadata"]["labels"].get("injected") == "yes" for p in got), got)
    ctl = [r["request"] for r in Hook.reviews if r["request"]["object"]["metadata"].get(
        "generateName")]
    check("controller-created pod reaches the webhook with generateName and no name",
          ctl and not ctl[0]["object"]["metadata"].get("name") and "name" not in ctl[0] and
          ctl[0]["userInfo"]["username"] ==
          "system:serviceaccount:kube-system:replicaset-controller", ctl[:1])
    Hook.reviews.clear()
    fault(cl, {"action": "legacy-empty-namespace", "enabled": True})
    st, _, sc = cl.req("PATCH", "/apis/apps/v1/namespaces/adm/deployments/web/scale",
                       {"spec": {"replicas": 3}}, "application/merge-patch+json")
    check("PATCH /scale", st == 200 and sc["kind"] == "Scale" and sc["spec"]["replicas"] == 3,
          (st, sc))
    wait(lambda: Hook.reviews, 5)
    fault(cl, {"action": "legacy-empty-namespace", "enabled": False})
    check("legacy-empty-namespace: controller pod sent without metadata.namespace, "
          "request.namespace still set", Hook.reviews and "namespace" not in
          Hook.reviews[0]["request"]["object"]["metadata"] and
          Hook.reviews[0]["request"]["namespace"] == "adm", Hook.reviews[:1])
    cl.req("PATCH", "/apis/apps/v1/namespaces/adm/deployments/web/scale",
           {"spec": {"replicas": 1}}, "application/merge-patch+json")
    check("scale down to 1 pod", wait(lambda: len([
        p for p in cl.req("GET", pods + "?labelSelector=app%3Dweb")[2]["items"]
        if not p["metadata"].get("deletionTimestamp")]) == 1, 10))
    Hook.reviews.clear()
    st, _, p = cl.req("POST", pods + "?dryRun=All", pod("dry"))
    check("dryRun=All: 201 with the mutated pod, webhook told dryRun, nothing stored",
          st == 201 and p["metadata"]["labels"].get("injected") == "yes" and Hook.reviews and
          Hook.reviews[0]["request"]["dryRun"] is True and
          cl.req("GET", pods + "/dry")[0] == 404, (st, p))
    cl.req("DELETE", MWC + "/hook")
    url = mwc("hook")
    url["webhooks"][0]["clientConfig"] = {"url": "https://hook.hooks.svc/mutate",
                                          "caBundle": url["webhooks"][0]["clientConfig"][
                                              "caBundle"]}
    cl.req("POST", MWC, url)
    st, _, p = cl.req("POST", pods, pod("via-url"))
    check("clientConfig.url webhook (host mapped by --service-host)", st == 201 and
          p["metadata"]["labels"].get("injected") == "yes", (st, p))
    cl.req("DELETE", MWC + "/hook")
    cl.req("POST", MWC, mwc("hook"))
    Hook.mode = "deny"
    st, _, doc = cl.req("POST", pods, pod("p4"))
    check("webhook denial -> refused with the webhook's message",
          st == 403 and doc["message"] == 'admission webhook "label.hooks.example.com" denied '
          "the request: pods must not run as root", (st, doc))
    Hook.mode = "baduid"
    st, _, doc = cl.req("POST", pods, pod("p5"))
    check("wrong response uid -> 500 failed calling webhook", st == 500 and
          'failed calling webhook "label.hooks.example.com"' in doc["message"], (st, doc))
    Hook.mode = "sleep"
    cl.req("DELETE", MWC + "/hook")
    cl.req("POST", MWC, mwc("hook", timeout=1))
    t0 = time.monotonic()
    st, _, doc = cl.req("POST", pods, pod("p6"))
    check("webhook slower than timeoutSeconds -> 500 context deadline exceeded",
          st == 500 and "context deadline exceeded" in doc["message"] and
          time.monotonic() - t0 < 2.4, (st, doc, time.monotonic() - t0))
    Hook.mode = "label"
    cl.req("DELETE", MWC + "/hook")
    cl.req("POST", MWC, mwc("hook", ca=open(os.path.join(L.WORK, "otherca.crt")).read()))
    st, _, doc = cl.req("POST", pods, pod("p7"))
    check("caBundle of another CA -> 500 x509 unknown authority", st == 500 and
          "x509: certificate signed by unknown authority" in doc["message"] and
          'Post "https://hook.hooks.svc:443/mutate?timeout=5s"' in doc["message"], (st, doc))
    cl.req("DELETE", MWC + "/hook")
    cl.req("POST", MWC, mwc("hook", port=8443))
    st, _, doc = cl.req("POST", pods, pod("p8"))
    check("webhook down + failurePolicy Fail -> 500 connection refused", st == 500 and
          doc["reason"] == "InternalError" and "connection refused" in doc["message"], (st, doc))
    cl.req("DELETE", MWC + "/hook")
    cl.req("POST", MWC, mwc("hook", policy="Ignore", port=8443))
    st, _, p = cl.req("POST", pods, pod("p9"))
    check("webhook down + failurePolicy Ignore -> created unmutated", st == 201 and
          "injected" not in (p["metadata"].get("labels") or {}), (st, p))
    st, _, doc = cl.req("POST", MWC, dict(mwc("bad"), webhooks=[dict(
        mwc("bad")["webhooks"][0], sideEffects="Unknown")]))
    check("MWC with sideEffects Unknown -> 422", st == 422, (st, doc))

