#!/usr/bin/python3
"""check.py: checks a webhook answer against the review it answers.

usage: check.py REVIEW RESPONSE EXPECT [ARG]
EXPECT: injected (patch adds istio-proxy; applied with python3-jsonpatch the
        pod has istio-proxy and istio-init; ARG: an image substring the
        proxy must have), allowed (allowed, no patch), refused (allowed
        false; ARG must appear in status.message), env (ARG=k=v: the
        injected istio-proxy has env k with value v).
Prints what it checked; exits 1 on the first mismatch.
"""
import base64
import json
import sys

import jsonpatch


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    review = json.load(open(sys.argv[1]))
    resp = json.load(open(sys.argv[2]))
    expect = sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    if resp.get("apiVersion") != review["apiVersion"]:
        fail("apiVersion %r, want %r" % (resp.get("apiVersion"),
                                         review["apiVersion"]))
    if resp.get("kind") != "AdmissionReview":
        fail("kind %r" % resp.get("kind"))
    r = resp.get("response") or fail("no response")
    if r.get("uid") != review["request"]["uid"]:
        fail("uid %r, want %r" % (r.get("uid"), review["request"]["uid"]))
    if expect == "allowed":
        if r.get("allowed") is not True or "patch" in r:
            fail("want allowed without patch, got %r" % r)
        print("ok: allowed, no patch")
        return
    if expect == "refused":
        if r.get("allowed") is not False:
            fail("want allowed=false, got %r" % r)
        st = r.get("status") or fail("no status")
        if arg not in st.get("message", ""):
            fail("status.message %r lacks %r" % (st.get("message"), arg))
        if st.get("code", 0) < 400:
            fail("status.code %r" % st.get("code"))
        print("ok: refused:", st["message"][:100])
        return
    if r.get("allowed") is not True or r.get("patchType") != "JSONPatch":
        fail("want allowed with JSONPatch, got %r" % {k: v for k, v in
                                                      r.items()
                                                      if k != "patch"})
    ops = json.loads(base64.b64decode(r["patch"], validate=True))
    if not any("istio-proxy" in json.dumps(op) for op in ops):
        fail("patch does not add istio-proxy")
    pod = jsonpatch.apply_patch(review["request"]["object"], ops)
    names = [c["name"] for c in pod["spec"]["containers"]]
    inits = [c["name"] for c in pod["spec"].get("initContainers", [])]
    if "istio-proxy" not in names:
        fail("patched pod has containers %r" % names)
    if "istio-init" not in inits and "istio-proxy" not in inits:
        fail("patched pod has initContainers %r" % inits)
    proxy = [c for c in pod["spec"]["containers"]
             if c["name"] == "istio-proxy"][0]
    if expect == "injected" and arg and arg not in proxy.get("image", ""):
        fail("istio-proxy image %r lacks %r" % (proxy.get("image"), arg))
    if expect == "env":
        k, v = arg.split("=", 1)
        got = {e["name"]: e.get("value") for e in proxy.get("env", [])}
        if got.get(k) != v:
            fail("istio-proxy env %s=%r, want %r" % (k, got.get(k), v))
    print("ok: %d patch ops applied; containers %s; init %s; image %s" %
          (len(ops), names, inits, proxy.get("image")))


if __name__ == "__main__":
    main()
