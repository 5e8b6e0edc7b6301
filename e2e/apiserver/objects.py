"""Per-kind API-server behaviour: defaulting, validation, immutable fields, generation.

Defaulting mirrors what a v1.30 API server does before admission (SetDefaults_* plus the
built-in ServiceAccount, DefaultTolerationSeconds and Priority admission plugins for pods),
because the injector reads those fields.
"""

import ipaddress
import json
import random
import re
import string
import time
import uuid

from labelsel import label_selector_obj_to_reqs
from status import ApiError, bad_request, invalid

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LKEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                   r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LVAL = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")

GEN_RESOURCES = {"deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
                 "customresourcedefinitions", "mutatingwebhookconfigurations",
                 "validatingwebhookconfigurations", "endpointslices", "poddisruptionbudgets"}

rng = random.Random()


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_uid():
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def gen_suffix(n=5):
    return "".join(rng.choice(NAME_CHARS) for _ in range(n))


def has_generation(ki):
    return not ki.builtin or ki.resource in GEN_RESOURCES


# ---------------- defaulting ----------------

def _image_pull_policy(image):
    ref = image.rsplit("/", 1)[-1]
    if "@" in ref:
        return "IfNotPresent"
    if ":" not in ref or ref.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _default_probe(p):
    if not isinstance(p, dict):
        return
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("scheme", "HTTP")
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)


def _default_container(c):
    if not isinstance(c, dict):
        return
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if "image" in c and "imagePullPolicy" not in c:
        c["imagePullPolicy"] = _image_pull_policy(str(c["image"]))
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for pr in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(pr))
    for e in c.get("env") or []:
        fr = isinstance(e, dict) and (e.get("valueFrom") or {}).get("fieldRef")
        if isinstance(fr, dict):
            fr.setdefault("apiVersion", "v1")


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            _default_container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("secret", "configMap", "projected", "downwardAPI"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
        if isinstance(v.get("hostPath"), dict):
            v["hostPath"].setdefault("type", "")


def default_pod(pod, sa_lookup=None):
    """Scheme defaults + ServiceAccount/DefaultTolerationSeconds/Priority admission plugins."""
    spec = pod.setdefault("spec", {})
    default_pod_spec(spec)
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = sa
    spec["serviceAccount"] = sa
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tols = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(isinstance(t, dict) and t.get("key") == key for t in tols):
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300})
    if sa_lookup is not None:
        sa_obj = sa_lookup(sa)
        automount = spec.get("automountServiceAccountToken")
        if automount is None and sa_obj is not None:
            automount = sa_obj.get("automountServiceAccountToken")
        mounted = any(m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount"
                      for c in spec.get("containers") or [] for m in c.get("volumeMounts") or [])
        if automount is not False and not mounted:
            vname = "kube-api-access-" + gen_suffix()
            spec.setdefault("volumes", []).append({"name": vname, "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt",
                                   "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
            for key in ("initContainers", "containers"):
                for c in spec.get(key) or []:
                    c.setdefault("volumeMounts", []).append({
                        "name": vname, "readOnly": True,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    pod["status"] = {}  # PrepareForCreate (after admission) sets phase and qosClass


def prepare_pod_status(pod):
    pod["status"] = {"phase": "Pending", "qosClass": _qos(pod.get("spec") or {})}


def _qos(spec):
    cs = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    req = lim = False
    guaranteed = bool(cs)
    for c in cs:
        r = c.get("resources") or {}
        rq, lm = r.get("requests") or {}, r.get("limits") or {}
        req, lim = req or bool(rq), lim or bool(lm)
        for res in ("cpu", "memory"):
            if res not in lm or str(rq.get(res, lm[res])) != str(lm[res]):
                guaranteed = False
    if not req and not lim:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_template(obj):
    tpl = (obj.get("spec") or {}).get("template")
    if isinstance(tpl, dict):
        default_pod_spec(tpl.setdefault("spec", {}))
        tpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)


class Allocator:
    """Sequential address allocator over a CIDR (pod IPs, service cluster IPs)."""

    def __init__(self, cidr, skip_first=1):
        import threading
        self.net = ipaddress.ip_network(cidr, strict=False)
        self.next = skip_first
        self.used = set()
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            return self._take()

    def _take(self):
        size = self.net.num_addresses
        for _ in range(size):
            i = self.next
            self.next = self.next + 1 if self.next + 2 < size else 1
            ip = str(self.net[i])
            if ip not in self.used:
                self.used.add(ip)
                return ip
        raise ApiError(500, "InternalError", "Internal error occurred: range %s is full" % self.net)

    def release(self, ip):
        self.used.discard(ip)


def apply_defaults(ki, obj, ctx):
    """Scheme defaulting for a create or update body (mutates obj)."""
    r = ki.resource if ki.builtin else None
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if r == "namespaces":
        md = obj["metadata"]
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md.get("name", "")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif r == "deployments" and spec is not None:
        spec.setdefault("replicas", 1)
        st = spec.setdefault("strategy", {})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _default_template(obj)
    elif r == "replicasets" and spec is not None:
        spec.setdefault("replicas", 1)
        _default_template(obj)
    elif r == "jobs" and spec is not None:
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        _default_template(obj)
    elif r == "services" and spec is not None:
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif r == "secrets":
        obj.setdefault("type", "Opaque")
        sd = obj.pop("stringData", None)
        if isinstance(sd, dict):
            import base64
            data = obj.setdefault("data", {})
            for k, v in sd.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif r in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        for w in obj.get("webhooks") or []:
            if not isinstance(w, dict):
                continue
            w.setdefault("failurePolicy", "Fail")
            w.setdefault("matchPolicy", "Equivalent")
            w.setdefault("timeoutSeconds", 10)
            w.setdefault("namespaceSelector", {})
            w.setdefault("objectSelector", {})
            if ki.resource == "mutatingwebhookconfigurations":
                w.setdefault("reinvocationPolicy", "Never")
            svc = (w.get("clientConfig") or {}).get("service")
            if isinstance(svc, dict):
                svc.setdefault("port", 443)
            for rule in w.get("rules") or []:
                if isinstance(rule, dict):
                    rule.setdefault("scope", "*")
    elif r == "customresourcedefinitions" and spec is not None:
        for v in spec.get("versions") or []:
            if isinstance(v, dict):
                v.setdefault("served", True)
        spec.setdefault("conversion", {"strategy": "None"})


# ---------------- validation ----------------

def _name_re(ki):
    if ki.builtin and ki.resource in ("namespaces", "services"):
        return (_LABEL if ki.resource == "namespaces" else _LABEL1035), 63
    return _SUBDOMAIN, 253


def validate_meta(ki, obj, creating):
    md = obj.get("metadata")
    name = md.get("name") if isinstance(md, dict) else None
    causes = []
    if not name:
        if not (creating and md and md.get("generateName")):
            causes.append(("metadata.name", "FieldValueRequired",
                           "Required value: name or generateName is required"))
    else:
        rx, maxlen = _name_re(ki)
        if not isinstance(name, str) or len(name) > maxlen or not rx.match(name):
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": a lowercase RFC 1123 %s must consist of lower '
                           "case alphanumeric characters, '-' or '.', and must start and end with "
                           "an alphanumeric character" % (name, "label" if maxlen == 63
                                                          else "subdomain")))
    for k, v in ((md or {}).get("labels") or {}).items():
        if not _LKEY.match(k) or len(k.split("/")[-1]) > 63:
            causes.append(("metadata.labels", "FieldValueInvalid", 'Invalid value: "%s": name '
                           "part must consist of alphanumeric characters, '-', '_' or '.'" % k))
        if not isinstance(v, str) or not _LVAL.match(v) or len(v) > 63:
            causes.append(("metadata.labels", "FieldValueInvalid",
                           'Invalid value: "%s": a valid label must be an empty string or consist '
                           "of alphanumeric characters, '-', '_' or '.'" % (v,)))
    for k, v in ((md or {}).get("annotations") or {}).items():
        if not isinstance(v, str):
            raise bad_request("json: cannot unmarshal %s into Go struct field "
                              "ObjectMeta.metadata.annotations of type string"
                              % type(v).__name__)
    if causes:
        raise invalid(ki, name or (md or {}).get("generateName", ""), causes)


def _containers_causes(spec, prefix):
    causes = []
    cs = spec.get("containers") if isinstance(spec, dict) else None
    if not cs:
        causes.append((prefix + ".containers", "FieldValueRequired", "Required value"))
        return causes
    seen = set()
    for i, c in enumerate(cs):
        p = "%s.containers[%d]" % (prefix, i)
        if not isinstance(c, dict):
            causes.append((p, "FieldValueInvalid", "Invalid value: not an object"))
            continue
        n = c.get("name")
        if not n:
            causes.append((p + ".name", "FieldValueRequired", "Required value"))
        elif n in seen:
            causes.append((p + ".name", "FieldValueDuplicate", 'Duplicate value: "%s"' % n))
        elif not _LABEL.match(n):
            causes.append((p + ".name", "FieldValueInvalid", 'Invalid value: "%s": a lowercase '
                           "RFC 1123 label must consist of lower case alphanumeric characters or "
                           "'-'" % n))
        seen.add(n)
        if not c.get("image"):
            causes.append((p + ".image", "FieldValueRequired", "Required value"))
    return causes


def validate(ki, obj, old):
    """Kind-specific validation; raises 422 Invalid."""
    if not ki.builtin:
        return
    r = ki.resource
    name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes = []
    if r == "pods":
        causes += _containers_causes(spec, "spec")
        if spec.get("restartPolicy") not in ("Always", "OnFailure", "Never"):
            causes.append(("spec.restartPolicy", "FieldValueNotSupported",
                           'Unsupported value: "%s"' % spec.get("restartPolicy")))
    elif r in ("deployments", "replicasets", "jobs", "statefulsets", "daemonsets"):
        sel = spec.get("selector")
        tpl = spec.get("template") or {}
        if r != "jobs" and not sel:
            causes.append(("spec.selector", "FieldValueRequired", "Required value"))
        causes += _containers_causes(tpl.get("spec"), "spec.template.spec")
        if sel:
            from labelsel import selector_obj_matches
            try:
                ok = selector_obj_matches(sel, (tpl.get("metadata") or {}).get("labels") or {})
            except ValueError as e:
                causes.append(("spec.selector", "FieldValueInvalid", str(e)))
                ok = True
            if not ok:
                causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                               "Invalid value: %s: `selector` does not match template `labels`"
                               % json.dumps((tpl.get("metadata") or {}).get("labels"))))
        if r == "jobs" and (tpl.get("spec") or {}).get("restartPolicy") not in ("Never",
                                                                                "OnFailure"):
            causes.append(("spec.template.spec.restartPolicy", "FieldValueRequired",
                           'Required value: valid values: "OnFailure", "Never"'))
    elif r == "services":
        if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None" \
                and not spec.get("ports"):
            causes.append(("spec.ports", "FieldValueRequired", "Required value"))
        for i, p in enumerate(spec.get("ports") or []):
            port = p.get("port") if isinstance(p, dict) else None
            if not isinstance(port, int) or not 0 < port < 65536:
                causes.append(("spec.ports[%d].port" % i, "FieldValueInvalid",
                               "Invalid value: %s: must be between 1 and 65535, inclusive"
                               % json.dumps(port)))
        if len(spec.get("ports") or []) > 1:
            for i, p in enumerate(spec["ports"]):
                if isinstance(p, dict) and not p.get("name"):
                    causes.append(("spec.ports[%d].name" % i, "FieldValueRequired",
                                   "Required value"))
    elif r in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        for i, w in enumerate(obj.get("webhooks") or []):
            p = "webhooks[%d]" % i
            if not w.get("name"):
                causes.append((p + ".name", "FieldValueRequired", "Required value"))
            if not w.get("admissionReviewVersions"):
                causes.append((p + ".admissionReviewVersions", "FieldValueRequired",
                               "Required value: must specify one of v1, v1beta1"))
            if w.get("sideEffects") not in ("None", "NoneOnDryRun"):
                causes.append((p + ".sideEffects", "FieldValueRequired" if not w.get("sideEffects")
                               else "FieldValueNotSupported",
                               'Unsupported value: "%s": supported values: "None", "NoneOnDryRun"'
                               % w.get("sideEffects")))
            cc = w.get("clientConfig") or {}
            if bool(cc.get("url")) == bool(cc.get("service")):
                causes.append((p + ".clientConfig", "FieldValueRequired",
                               "Required value: exactly one of url or service is required"))
            for sk in ("namespaceSelector", "objectSelector"):
                try:
                    label_selector_obj_to_reqs(w.get(sk))
                except ValueError as e:
                    causes.append(("%s.%s.matchExpressions" % (p, sk), "FieldValueInvalid",
                                   str(e)))
            ts = w.get("timeoutSeconds")
            if not isinstance(ts, int) or not 1 <= ts <= 30:
                causes.append((p + ".timeoutSeconds", "FieldValueInvalid",
                               "Invalid value: %s: the timeout value must be between 1 and 30 "
                               "seconds" % json.dumps(ts)))
    elif r == "customresourcedefinitions":
        names = spec.get("names") or {}
        want = "%s.%s" % (names.get("plural"), spec.get("group"))
        if obj["metadata"].get("name") != want:
            causes.append(("metadata.name", "FieldValueInvalid", 'Invalid value: "%s": must be '
                           "spec.names.plural+\".\"+spec.group" % obj["metadata"].get("name")))
        vers = spec.get("versions") or []
        if not vers:
            causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have "
                           "exactly one version marked as storage version"))
        elif sum(1 for v in vers if v.get("storage")) != 1:
            causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have "
                           "exactly one version marked as storage version"))
        if not names.get("kind"):
            causes.append(("spec.names.kind", "FieldValueRequired", "Required value"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(("spec.scope", "FieldValueNotSupported", 'Unsupported value: "%s"'
                           % spec.get("scope")))
    if old is not None:
        causes += _immutable(r, obj, old)
    if causes:
        raise invalid(ki, name, causes)


def _immutable(r, obj, old):
    causes = []
    spec, ospec = obj.get("spec") or {}, old.get("spec") or {}
    if r in ("deployments", "replicasets") and spec.get("selector") != ospec.get("selector"):
        causes.append(("spec.selector", "FieldValueInvalid", "Invalid value: %s: field is "
                       "immutable" % json.dumps(spec.get("selector"))))
    if r == "services" and ospec.get("clusterIP") and spec.get("clusterIP") not in (
            None, "", ospec.get("clusterIP")):
        causes.append(("spec.clusterIP", "FieldValueInvalid", "Invalid value: \"%s\": field is "
                       "immutable" % spec.get("clusterIP")))
    if r in ("configmaps", "secrets") and old.get("immutable"):
        if obj.get("data") != old.get("data") or obj.get("binaryData") != old.get("binaryData"):
            causes.append(("data", "FieldValueForbidden",
                           "Forbidden: field is immutable when `immutable` is set"))
    if r == "pods":
        a = json.loads(json.dumps(spec))
        b = json.loads(json.dumps(ospec))
        for s in (a, b):
            for key in ("containers", "initContainers"):
                for c in s.get(key) or []:
                    c.pop("image", None)
            for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds",
                        "nodeName"):
                s.pop(key, None)
        if a != b:
            causes.append(("spec", "FieldValueForbidden", "Forbidden: pod updates may not change "
                           "fields other than `spec.containers[*].image`, "
                           "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
                           "`spec.tolerations` (only additions to existing tolerations), "
                           "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                           "was previously negative)"))
    if r == "jobs" and spec.get("template") != ospec.get("template"):
        causes.append(("spec.template", "FieldValueInvalid", "Invalid value: field is immutable"))
    return causes


def spec_changed(ki, obj, old):
    """True when the change bumps metadata.generation."""
    if ki.status or (ki.builtin and ki.resource in GEN_RESOURCES and not ki.status):
        skip = {"metadata", "status"} if ki.status else {"metadata"}
    else:
        skip = {"metadata"}
    a = {k: v for k, v in obj.items() if k not in skip}
    b = {k: v for k, v in old.items() if k not in skip}
    return a != b


def random_token(n=32):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))
