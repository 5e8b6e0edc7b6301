"""Resource type registry (built-in kinds + CRD-defined kinds), discovery and minimal OpenAPI v3."""

import hashlib
import json
import threading

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class KindInfo:
    """One served resource: group/version/resource/kind and its behaviour flags."""

    def __init__(self, group, version, resource, kind, namespaced, short=(), status=False,
                 scale=False, verbs=None, crd=None, versions=None, builtin=True, singular=None,
                 categories=()):
        self.group = group
        self.version = version  # preferred/storage version
        self.versions = versions or [version]  # served versions
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status
        self.scale = scale
        self.verbs = verbs or ALL_VERBS
        self.crd = crd  # CRD name when CRD-defined
        self.builtin = builtin
        self.singular = singular if singular is not None else kind.lower()
        self.categories = list(categories)
        self.gr = (group, resource)

    def api_version(self, version=None):
        v = version or self.version
        return v if not self.group else "%s/%s" % (self.group, v)

    def list_kind(self):
        return self.kind + "List"


def _b(group, version, resource, kind, namespaced, short=(), **kw):
    return KindInfo(group, version, resource, kind, namespaced, short, **kw)


CREATE_ONLY = ["create"]

BUILTINS = [
    _b("", "v1", "namespaces", "Namespace", False, ("ns",), status=True),
    _b("", "v1", "pods", "Pod", True, ("po",), status=True, categories=("all",)),
    _b("", "v1", "services", "Service", True, ("svc",), status=True, categories=("all",)),
    _b("", "v1", "endpoints", "Endpoints", True, ("ep",), singular="endpoints"),
    _b("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _b("", "v1", "secrets", "Secret", True),
    _b("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _b("", "v1", "events", "Event", True, ("ev",)),
    _b("", "v1", "nodes", "Node", False, ("no",), status=True),
    _b("apps", "v1", "deployments", "Deployment", True, ("deploy",), status=True, scale=True,
       categories=("all",)),
    _b("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), status=True, scale=True,
       categories=("all",)),
    _b("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), status=True, scale=True),
    _b("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), status=True),
    _b("batch", "v1", "jobs", "Job", True, (), status=True, categories=("all",)),
    _b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _b("coordination.k8s.io", "v1", "leases", "Lease", True),
    _b("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
       False, ("crd", "crds"), status=True),
    _b("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False),
    _b("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False),
    _b("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=CREATE_ONLY),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), status=True),
    _b("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",),
       status=True),
]

# Core group first, then named groups in this order (kubectl prints discovery in server order).
GROUP_ORDER = ["", "apps", "batch", "discovery.k8s.io", "coordination.k8s.io",
               "apiextensions.k8s.io", "admissionregistration.k8s.io", "authentication.k8s.io",
               "rbac.authorization.k8s.io", "policy", "autoscaling"]


class Registry:
    """Thread-safe table of served kinds; CRDs are added/removed at run time."""

    def __init__(self, k8s_version):
        self.lock = threading.Lock()
        self.k8s_version = k8s_version
        self.builtin = {(k.group, k.resource): k for k in BUILTINS}
        self.custom = {}  # (group, resource) -> KindInfo
        self.gen = 0  # bumps on every change (openapi hash)

    def all(self):
        with self.lock:
            return list(self.builtin.values()) + list(self.custom.values())

    def lookup(self, group, version, resource):
        with self.lock:
            ki = self.builtin.get((group, resource)) or self.custom.get((group, resource))
        if ki is None or version not in ki.versions:
            return None
        return ki

    def by_gr(self, group, resource):
        with self.lock:
            return self.builtin.get((group, resource)) or self.custom.get((group, resource))

    def by_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for ki in self.all():
            if ki.group == group and ki.kind == kind and version in ki.versions:
                return ki
        return None

    def set_crd(self, crd):
        """Install or refresh the kind served by an (established) CRD object."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        vers = [v for v in spec.get("versions") or [] if v.get("served")]
        group, plural = spec.get("group"), names.get("plural")
        if not vers or not group or not plural:
            return
        storage = next((v for v in vers if v.get("storage")), vers[0])
        subres = storage.get("subresources") or {}
        ki = KindInfo(group, storage["name"], plural, names.get("kind", ""),
                      spec.get("scope", "Namespaced") == "Namespaced", names.get("shortNames") or (),
                      status="status" in subres, scale="scale" in subres, crd=crd["metadata"]["name"],
                      versions=[v["name"] for v in vers], builtin=False,
                      singular=names.get("singular") or names.get("kind", "").lower(),
                      categories=names.get("categories") or ())
        ki.schemas = {v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") for v in vers}
        ki.scale_paths = subres.get("scale")
        with self.lock:
            self.custom[(group, plural)] = ki
            self.gen += 1

    def drop_crd(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("group"), (spec.get("names") or {}).get("plural"))
        with self.lock:
            if key in self.custom:
                del self.custom[key]
                self.gen += 1

    # ---- discovery ----

    def groups(self):
        """[(group, [versions], preferred)] in server order."""
        seen = {}
        for ki in self.all():
            if not ki.group:
                continue
            vs = seen.setdefault(ki.group, [])
            for v in ki.versions:
                if v not in vs:
                    vs.append(v)
        order = [g for g in GROUP_ORDER if g in seen] + sorted(g for g in seen
                                                                if g not in GROUP_ORDER)
        out = []
        for g in order:
            vs = sorted(seen[g], key=_version_priority)
            out.append((g, vs, vs[0]))
        return out

    def api_group_list(self):
        groups = []
        for g, vs, pref in self.groups():
            gvs = [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs]
            groups.append({"name": g, "versions": gvs,
                           "preferredVersion": {"groupVersion": "%s/%s" % (g, pref),
                                                "version": pref}})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group):
        for g, vs, pref in self.groups():
            if g == group:
                return {"kind": "APIGroup", "apiVersion": "v1", "name": g,
                        "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": "%s/%s" % (g, pref), "version": pref}}
        return None

    def resource_list(self, group, version):
        kis = [k for k in self.all() if k.group == group and version in k.versions]
        if not kis:
            return None
        res = []
        for ki in kis:
            item = {"name": ki.resource, "singularName": ki.singular, "namespaced": ki.namespaced,
                    "kind": ki.kind, "verbs": list(ki.verbs)}
            if ki.short:
                item["shortNames"] = list(ki.short)
            if ki.categories:
                item["categories"] = list(ki.categories)
            res.append(item)
            if ki.status:
                res.append({"name": ki.resource + "/status", "singularName": "",
                            "namespaced": ki.namespaced, "kind": ki.kind,
                            "verbs": ["get", "patch", "update"]})
            if ki.scale:
                res.append({"name": ki.resource + "/scale", "singularName": "",
                            "namespaced": ki.namespaced, "group": "autoscaling", "version": "v1",
                            "kind": "Scale", "verbs": ["get", "patch", "update"]})
            if ki.resource == "serviceaccounts":
                res.append({"name": "serviceaccounts/token", "singularName": "",
                            "namespaced": True, "group": "authentication.k8s.io", "version": "v1",
                            "kind": "TokenRequest", "verbs": ["create"]})
        gv = version if not group else "%s/%s" % (group, version)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}

    # ---- OpenAPI v3 (Appendix A: just enough for kubectl >= 1.30 apply) ----

    def _gv_list(self):
        gvs = [("", "v1")]
        for g, vs, _ in self.groups():
            gvs += [(g, v) for v in vs]
        return gvs

    def openapi_gv_doc(self, group, version):
        kis = [k for k in self.all() if k.group == group and version in k.versions]
        if not kis:
            return None
        paths = {}
        for ki in kis:
            if "patch" not in ki.verbs:
                continue
            base = "/api/v1" if not group else "/apis/%s/%s" % (group, version)
            if ki.namespaced:
                p = "%s/namespaces/{namespace}/%s/{name}" % (base, ki.resource)
            else:
                p = "%s/%s/{name}" % (base, ki.resource)
            paths[p] = {"patch": {
                "operationId": "patch" + ki.kind,
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": group, "version": version,
                                                    "kind": ki.kind},
                "parameters": [{"name": "fieldValidation", "in": "query",
                                "schema": {"type": "string"}},
                               {"name": "fieldManager", "in": "query",
                                "schema": {"type": "string"}},
                               {"name": "dryRun", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": "v" + self.k8s_version},
                "paths": paths, "components": {"schemas": {}}}

    def openapi_hash(self, group, version):
        doc = self.openapi_gv_doc(group, version)
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()

    def openapi_index(self):
        paths = {}
        for g, v in self._gv_list():
            key = "api/v1" if not g else "apis/%s/%s" % (g, v)
            paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" %
                          (key, self.openapi_hash(g, v))}
        return {"paths": paths}


def _version_priority(v):
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {"alpha": 2, "beta": 1}.get(m.group(2), 0)
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, v)
