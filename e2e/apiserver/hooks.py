"""Kind-specific steps of the API operations: pod admission chain, cluster IPs, CRD
establishment, namespace bootstrap, graceful pod deletion, namespace termination, TokenReview."""

import time

import objects
from status import ApiError, conflict, forbidden, invalid
from store import clone

CONTROLLER_USER = {"username": "system:serviceaccount:kube-system:replicaset-controller",
                   "uid": "", "groups": ["system:serviceaccounts",
                                         "system:serviceaccounts:kube-system",
                                         "system:authenticated"]}


def sa_alive(api):
    def check(ns, name, uid):
        o = api.store.get(("", "serviceaccounts"), ns, name)
        return o is not None and (not uid or o["metadata"].get("uid") == uid)
    return check


def create_only(api, ki, ns, body, user, opts):
    """Create-only virtual resources (not stored). Returns the response object or None."""
    if ki.builtin and ki.resource == "tokenreviews":
        tok = (body.get("spec") or {}).get("token", "")
        u = api.auth.user_for(tok, sa_alive(api))
        st = {"authenticated": u is not None, "user": u or {}}
        if (body.get("spec") or {}).get("audiences"):
            st["audiences"] = body["spec"]["audiences"]
        if u is None:
            st["error"] = "invalid bearer token"
        body["status"] = st
        body["metadata"].setdefault("creationTimestamp", None)
        return body
    return None


def admit_pod(api, ki, ns, body, user, opts):
    """Built-in admission (ServiceAccount, tolerations, priority) then the mutating webhooks."""
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    sa_obj = api.store.get(("", "serviceaccounts"), ns, sa)
    if sa_obj is None:
        raise forbidden('pods "%s" is forbidden: error looking up service account %s/%s: '
                        'serviceaccount "%s" not found' % (body["metadata"].get("name", ""),
                                                          ns, sa, sa), ki,
                        body["metadata"].get("name"))
    objects.default_pod(body, lambda n: api.store.get(("", "serviceaccounts"), ns, n))
    if api.admission is not None:
        body = api.admission.admit(ki, ns, body, user, opts)
        objects.default_pod_spec(body.get("spec"))
    objects.prepare_pod_status(body)
    return body


def before_create(api, ki, obj, opts):
    if not ki.builtin:
        return
    if ki.resource == "services":
        spec = obj.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            if spec.get("clusterIP") == "None":
                spec["clusterIPs"] = ["None"]
            return
        ip = spec.get("clusterIP")
        if ip:
            if ip in api.svc_ips.used:
                raise invalid(ki, obj["metadata"].get("name"), [
                    ("spec.clusterIPs", "FieldValueInvalid",
                     'Invalid value: []string{"%s"}: failed to allocate IP %s: provided IP is '
                     "already allocated" % (ip, ip))])
            api.svc_ips.used.add(ip)
        elif not opts.dry_run:
            ip = api.svc_ips.take()
        spec["clusterIP"] = ip or ""
        spec["clusterIPs"] = [ip] if ip else []
    elif ki.resource == "customresourcedefinitions":
        spec = obj.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        now = objects.now_rfc3339()
        obj["status"] = {"acceptedNames": names, "storedVersions": storage, "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now}]}


def on_uid(ki, obj):
    """Jobs: the server generates the selector from the uid (unless spec.manualSelector)."""
    if ki.builtin and ki.resource == "jobs":
        spec = obj.get("spec") or {}
        if spec.get("manualSelector"):
            return
        uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault(
            "labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid,
                       "batch.kubernetes.io/job-name": name, "controller-uid": uid,
                       "job-name": name})


def after_create(api, ki, obj):
    if not ki.builtin:
        return
    if ki.resource == "namespaces":
        bootstrap_namespace(api, obj["metadata"]["name"])
    elif ki.resource == "customresourcedefinitions":
        delay = api.cfg.crd_establish_delay
        if delay > 0:
            def later():
                time.sleep(delay)
                cur = api.store.get(ki.gr, "", obj["metadata"]["name"])
                if cur is not None and cur["metadata"].get("uid") == obj["metadata"]["uid"]:
                    api.reg.set_crd(cur)
            import threading
            threading.Thread(target=later, daemon=True).start()
        else:
            api.reg.set_crd(obj)


def bootstrap_namespace(api, ns):
    """What the service-account and root-CA controllers do for a new namespace (done at once
    so that a pod created right after its namespace finds the default ServiceAccount)."""
    from api import Options
    sa_ki = api.reg.by_gr("", "serviceaccounts")
    cm_ki = api.reg.by_gr("", "configmaps")
    for ki, body in ((sa_ki, {"metadata": {"name": "default"}}),
                     (cm_ki, {"metadata": {"name": "kube-root-ca.crt", "annotations": {
                         "kubernetes.io/description": "Contains a CA bundle that can be used to "
                         "verify the kube-apiserver when using internal endpoints such as the "
                         "internal service IP or kubernetes.default.svc. No other usage is "
                         "guaranteed across distributions of Kubernetes clusters."}},
                      "data": {"ca.crt": api.cfg.ca_pem}})):
        if api.store.get(ki.gr, ns, body["metadata"]["name"]) is None:
            try:
                api.create(ki, ns, body, CONTROLLER_USER, Options())
            except ApiError:
                pass


def before_update(api, ki, new, old):
    if not ki.builtin:
        return
    if ki.resource == "services":
        spec, ospec = new.setdefault("spec", {}), old.get("spec") or {}
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
            spec["clusterIPs"] = ospec.get("clusterIPs", [ospec["clusterIP"]])


def after_update(api, ki, obj, old):
    if ki.builtin and ki.resource == "customresourcedefinitions" \
            and not obj["metadata"].get("deletionTimestamp"):
        api.reg.set_crd(obj)


def delete_special(api, ki, old, dopts, opts):
    """Graceful pod deletion and namespace termination. Caller holds the store lock."""
    if not ki.builtin:
        return None
    omd = old["metadata"]
    if ki.resource == "namespaces":
        if omd.get("deletionTimestamp"):
            raise conflict(ki, omd["name"], "The system is ensuring all content is removed from "
                           "this namespace.  Upon completion, this namespace will automatically "
                           "be purged by the system.")
        new = clone(old)
        new["metadata"]["deletionTimestamp"] = objects.now_rfc3339()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new.setdefault("status", {})["phase"] = "Terminating"
        if opts.dry_run:
            return 200, new
        return 200, api.store.commit(ki.gr, new, old)
    if ki.resource == "pods":
        grace = dopts.get("gracePeriodSeconds")
        if grace is None:
            grace = (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        grace = max(0, int(grace))
        if omd.get("deletionTimestamp"):
            if grace == 0 and omd.get("deletionGracePeriodSeconds", 0) != 0:
                new = clone(old)
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                stored = api.store.commit(ki.gr, new, old)
                if not stored["metadata"].get("finalizers"):
                    return 200, api._remove(ki, stored)
                return 200, stored
            return 200, old
        if grace == 0 or not (old.get("spec") or {}).get("nodeName"):
            return None
        new = clone(old)
        new["metadata"]["deletionTimestamp"] = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + grace))
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        if opts.dry_run:
            return 200, new
        return 200, api.store.commit(ki.gr, new, old)
    return None


def after_delete(api, ki, final):
    if ki.builtin and ki.resource == "customresourcedefinitions":
        spec = final.get("spec") or {}
        gr = (spec.get("group"), (spec.get("names") or {}).get("plural"))
        api.reg.drop_crd(final)
        with api.store.lock:
            for o in list(api.store.objs.get(gr, {}).values()):
                api.store.remove(gr, o)
    elif ki.builtin and ki.resource == "pods":
        ip = (final.get("status") or {}).get("podIP")
        if ip:
            api.pod_ips.release(ip)
    elif ki.builtin and ki.resource == "services":
        ip = (final.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            api.svc_ips.release(ip)


def token_request(api, ns, name, body):
    """POST serviceaccounts/<name>/token: a bound token that expires (strict expiry)."""
    sa = api.store.get(("", "serviceaccounts"), ns, name)
    if sa is None:
        from status import ApiError as E
        raise E(404, "NotFound", 'serviceaccounts "%s" not found' % name,
                {"name": name, "kind": "serviceaccounts"})
    spec = (body or {}).get("spec") or {}
    ttl = int(spec.get("expirationSeconds") or 3600)
    if ttl < 600:
        raise invalid(api.reg.by_gr("", "serviceaccounts"), name, [
            ("spec.expirationSeconds", "FieldValueInvalid",
             "Invalid value: %d: may not specify a duration less than 10 minutes" % ttl)])
    ttl = api.cfg.token_ttl_override or ttl
    tok = api.auth.service_account_token(ns, name, sa["metadata"]["uid"], ttl=ttl)
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl))
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns,
                         "creationTimestamp": objects.now_rfc3339()},
            "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc"],
                     "expirationSeconds": ttl, "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": tok, "expirationTimestamp": exp}}
