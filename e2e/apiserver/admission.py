"""Mutating admission: calls MutatingWebhookConfiguration webhooks for pod CREATE over real
TLS (verified against caBundle, server name <svc>.<ns>.svc), sends AdmissionReview v1 and
applies the returned JSON Patch (section 4 of the reference)."""

import base64
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.parse

import objects
from labelsel import label_selector_obj_to_reqs, labels_match
from patches import PatchError, json_patch
from status import ApiError, bad_request, internal
from store import clone

MWC = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
SUPPORTED = ("v1", "v1beta1")


class CallError(Exception):
    pass


class _Conn(http.client.HTTPSConnection):
    """HTTPS to an address while verifying (and sending SNI for) another name."""

    def __init__(self, host, port, sni, ctx, timeout):
        super().__init__(host, port, context=ctx, timeout=timeout)
        self._sni = sni
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni)


def _rule_matches(rule, op, group, version, resource, namespaced):
    ops = rule.get("operations") or []
    if op not in ops and "*" not in ops:
        return False
    if group not in (rule.get("apiGroups") or []) and "*" not in (rule.get("apiGroups") or []):
        return False
    if version not in (rule.get("apiVersions") or []) and "*" not in (rule.get("apiVersions")
                                                                     or []):
        return False
    res = rule.get("resources") or []
    if resource not in res and "*" not in res and "*/*" not in res:
        return False
    scope = rule.get("scope", "*")
    return scope == "*" or scope == ("Namespaced" if namespaced else "Cluster")


class Admission:
    def __init__(self, api, cfg):
        self.api = api
        self.cfg = cfg

    def _webhooks(self):
        _, cfgs = self.api.store.list(MWC)
        for c in cfgs:  # configurations in name order, webhooks in list order
            for w in c.get("webhooks") or []:
                yield c["metadata"]["name"], w

    def admit(self, ki, ns, obj, user, opts, operation="CREATE"):
        """Run matching webhooks on obj (a private dict); returns the admitted object."""
        nso = self.api.store.get(("", "namespaces"), "", ns) if ki.namespaced else None
        ns_labels = (nso or {}).get("metadata", {}).get("labels") or {}
        reinvoke = []
        last_change = -1
        called = 0
        for _, w in self._webhooks():
            changed = self._one(ki, ns, ns_labels, w, obj, user, opts, operation)
            if changed is None:
                continue
            called += 1
            obj = changed[0]
            if changed[1]:
                last_change = called
            if w.get("reinvocationPolicy") == "IfNeeded":
                reinvoke.append((called, w))
        for idx, w in reinvoke:
            if last_change > idx:
                changed = self._one(ki, ns, ns_labels, w, obj, user, opts, operation)
                if changed is not None:
                    obj = changed[0]
        return obj

    def _one(self, ki, ns, ns_labels, w, obj, user, opts, operation):
        """Call one webhook if it matches; None if skipped, else (object, changed)."""
        name = w.get("name", "")
        if not any(_rule_matches(r, operation, ki.group, ki.version, ki.resource, ki.namespaced)
                   for r in w.get("rules") or []):
            return None
        policy = w.get("failurePolicy", "Fail")
        try:
            if ki.namespaced and not labels_match(
                    label_selector_obj_to_reqs(w.get("namespaceSelector")), ns_labels):
                return None
            if not labels_match(label_selector_obj_to_reqs(w.get("objectSelector")),
                                obj["metadata"].get("labels") or {}):
                return None
        except ValueError as e:
            return self._fail(policy, name, "failed to evaluate selectors: %s" % e, obj)
        if opts.dry_run and w.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise bad_request('admission webhook "%s" does not support dry run' % name)
        versions = [v for v in w.get("admissionReviewVersions") or [] if v in SUPPORTED]
        if not versions:
            return self._fail(policy, name, "webhook does not accept v1 or v1beta1 "
                              "AdmissionReview", obj)
        review_api = "admission.k8s.io/" + versions[0]
        sent = clone(obj)
        if self.cfg.legacy_empty_namespace and user and \
                user.get("username", "").startswith("system:serviceaccount:kube-system:"):
            sent["metadata"].pop("namespace", None)
        sent["metadata"].setdefault("creationTimestamp", None)
        uid = objects.new_uid()
        req = {"uid": uid,
               "kind": {"group": ki.group, "version": ki.version, "kind": ki.kind},
               "resource": {"group": ki.group, "version": ki.version, "resource": ki.resource},
               "requestKind": {"group": ki.group, "version": ki.version, "kind": ki.kind},
               "requestResource": {"group": ki.group, "version": ki.version,
                                   "resource": ki.resource},
               "namespace": ns, "operation": operation,
               "userInfo": {k: v for k, v in (user or {}).items() if v},
               "object": sent, "oldObject": None, "dryRun": bool(opts.dry_run),
               "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}
        if obj["metadata"].get("name"):
            req["name"] = obj["metadata"]["name"]
        if opts.field_manager:
            req["options"]["fieldManager"] = opts.field_manager
        review = {"apiVersion": review_api, "kind": "AdmissionReview", "request": req}
        try:
            resp = self._call(w, review, review_api, uid)
        except CallError as e:
            return self._fail(policy, name, str(e), obj)
        if not resp.get("allowed"):
            st = dict(resp.get("status") or {})
            code = st.get("code") or 0
            if code < 400:
                code = 400
            denied = 'admission webhook "%s" denied the request' % name
            if st.get("message"):
                msg = "%s: %s" % (denied, st["message"])
            elif st.get("reason"):
                msg = "%s: %s" % (denied, st["reason"])
            else:
                msg = denied + " without explanation"
            raise ApiError(code, st.get("reason", ""), msg, st.get("details"))
        for wn in resp.get("warnings") or []:
            opts.warnings.append(wn)
        patch = resp.get("patch")
        if not patch:
            return obj, False
        try:
            ops = json.loads(base64.b64decode(patch))
            patched = json_patch(clone(obj), ops)
        except (ValueError, PatchError) as e:
            raise internal("jsonpatch " + str(e) if isinstance(e, PatchError) else
                           "failed calling webhook \"%s\": invalid patch: %s" % (name, e))
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise internal('failed calling webhook "%s": patched object is not an object' % name)
        for k in ("name", "namespace", "generateName"):
            if patched["metadata"].get(k) != obj["metadata"].get(k) and k != "generateName":
                raise internal('failed calling webhook "%s": the patch changed metadata.%s'
                               % (name, k))
        return patched, patched != obj

    def _fail(self, policy, name, err, obj):
        msg = 'failed calling webhook "%s": %s' % (name, err)
        if policy == "Ignore":
            print("admission: ignoring (failurePolicy Ignore): " + msg, file=sys.stderr,
                  flush=True)
            return obj, False
        raise internal(msg)

    def _target(self, w):
        """(connect host, port, server name, url for messages, path)."""
        cc = w.get("clientConfig") or {}
        ts = int(w.get("timeoutSeconds", 10))
        if cc.get("service"):
            s = cc["service"]
            svc = "%s.%s.svc" % (s.get("name"), s.get("namespace"))
            port = int(s.get("port", 443))
            path = s.get("path") or "/"
            url = "https://%s:%d%s?timeout=%ds" % (svc, port, path, ts)
            mapped = self.cfg.service_hosts.get("%s:%d" % (svc, port)) or \
                self.cfg.service_hosts.get(svc)
            if mapped is None:
                raise CallError('failed to call webhook: Post "%s": dial tcp: lookup %s on '
                                "127.0.0.53:53: no such host" % (url, svc))
            return mapped[0], mapped[1], svc, url, path
        u = urllib.parse.urlsplit(cc.get("url", ""))
        if u.scheme != "https" or not u.hostname:
            raise CallError("failed to call webhook: invalid url %r" % cc.get("url"))
        port = u.port or 443
        path = u.path or "/"
        url = "https://%s%s?timeout=%ds" % (u.netloc, path, ts)
        mapped = self.cfg.service_hosts.get("%s:%d" % (u.hostname, port)) or \
            self.cfg.service_hosts.get(u.hostname)
        host, cport = mapped if mapped else (u.hostname, port)
        return host, cport, u.hostname, url, path

    def _call(self, w, review, review_api, uid):
        cc = w.get("clientConfig") or {}
        ts = int(w.get("timeoutSeconds", 10))
        host, port, sni, url, path = self._target(w)
        try:
            if cc.get("caBundle"):
                ca = base64.b64decode(cc["caBundle"]).decode()
                ctx = ssl.create_default_context(cadata=ca)
            else:
                ctx = ssl.create_default_context()
        except (ValueError, ssl.SSLError) as e:
            raise CallError('failed to call webhook: Post "%s": tls: failed to verify '
                            "certificate: x509: certificate signed by unknown authority "
                            "(caBundle unusable: %s)" % (url, e))
        ctx.hostname_checks_common_name = False  # like Go: SANs only
        body = json.dumps(review).encode()
        deadline = time.monotonic() + ts
        conn = _Conn(host, port, sni, ctx, ts)
        try:
            conn.request("POST", "%s?timeout=%ds" % (path, ts), body,
                         {"Content-Type": "application/json", "Accept": "application/json, */*",
                          "Host": url.split("/")[2], "User-Agent": "kube-apiserver-admission"})
            conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
            r = conn.getresponse()
            data = r.read(16 << 20)
            status = r.status
        except ssl.SSLCertVerificationError as e:
            if getattr(e, "verify_code", 0) == 62:
                why = "x509: certificate is not valid for %s" % sni
            else:
                why = "x509: certificate signed by unknown authority"
            raise CallError('failed to call webhook: Post "%s": tls: failed to verify '
                            "certificate: %s" % (url, why))
        except (socket.timeout, TimeoutError):
            raise CallError('failed to call webhook: Post "%s": context deadline exceeded' % url)
        except ConnectionRefusedError:
            raise CallError('failed to call webhook: Post "%s": dial tcp %s:%d: connect: '
                            "connection refused" % (url, host, port))
        except (OSError, http.client.HTTPException) as e:
            raise CallError('failed to call webhook: Post "%s": %s' % (url, e))
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise CallError('failed to call webhook: Post "%s": context deadline exceeded' % url)
        if status != 200:
            raise CallError("failed to call webhook: an error on the server (\"%s\") has "
                            "prevented the request from succeeding" %
                            data[:200].decode(errors="replace").strip())
        try:
            out = json.loads(data)
        except ValueError as e:
            raise CallError("received invalid webhook response: %s" % e)
        if not isinstance(out, dict) or out.get("apiVersion") != review_api or \
                out.get("kind") != "AdmissionReview":
            raise CallError("received invalid webhook response: expected webhook response of "
                            "%s, Kind=AdmissionReview, got %s, Kind=%s" % (
                                review_api, (out or {}).get("apiVersion") if isinstance(
                                    out, dict) else None,
                                (out or {}).get("kind") if isinstance(out, dict) else None))
        resp = out.get("response")
        if not isinstance(resp, dict):
            raise CallError("received invalid webhook response: webhook response was absent")
        if resp.get("uid") != uid:
            raise CallError('received invalid webhook response: expected response.uid="%s", '
                            'got "%s"' % (uid, resp.get("uid")))
        if resp.get("patch") and resp.get("patchType") is None:
            raise CallError("received invalid webhook response: webhook returned "
                            "response.patch but not response.patchType")
        if resp.get("patchType") not in (None, "JSONPatch"):
            raise CallError('received invalid webhook response: webhook returned invalid '
                            'response.patchType of "%s"' % resp.get("patchType"))
        return resp
