"""The API operations (get, list, create, update, patch, delete) shared by the REST handlers
and the controllers. Kind-specific hooks live in hooks.py, admission in admission.py."""

import base64
import json
import time

import hooks
import objects
import schema
from labelsel import fields_match, labels_match, parse_field_selector, parse_label_selector
from patches import PatchError, json_patch, merge_patch, server_side_apply, strategic_merge
from status import (ApiError, already_exists, bad_request, conflict, forbidden, gone, internal,
                    invalid, not_found, ns_not_found, success_status, timeout_rv_too_large,
                    unsupported_media)
from store import clone

CREATE_ON_UPDATE = {"endpoints", "leases", "endpointslices", "events", "roles", "rolebindings",
                    "clusterroles", "clusterrolebindings"}
SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
               "generation")
NS_GR = ("", "namespaces")
CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list.")


def qbool(v):
    return v in ("true", "1", "True")


class Options:
    """Per-request options (query parameters)."""

    def __init__(self, q=None):
        q = q or {}
        self.dry_run = q.get("dryRun") == "All"
        self.field_manager = q.get("fieldManager")
        self.field_validation = q.get("fieldValidation", "")
        self.force = qbool(q.get("force", "false"))
        self.warnings = []


class Api:
    def __init__(self, store, registry, auth, cfg):
        self.store = store
        self.reg = registry
        self.auth = auth
        self.cfg = cfg
        self.admission = None  # set by the server (admission.Admission)
        self.pod_ips = objects.Allocator(cfg.pod_cidr)
        self.svc_ips = objects.Allocator(cfg.service_cidr, skip_first=1)

    # ---------------- helpers ----------------

    def out(self, ki, obj, version=None):
        """The object as served at a version (CRs share storage across versions)."""
        if obj is None:
            return None
        av = ki.api_version(version)
        if obj.get("apiVersion") == av:
            return obj
        o = dict(obj)
        o["apiVersion"] = av
        return o

    def ns_of(self, ki, ns):
        return ns if ki.namespaced else ""

    def _require_ns(self, ki, ns, creating=True):
        if not ki.namespaced:
            return
        nso = self.store.get(NS_GR, "", ns)
        if nso is None:
            raise ns_not_found(ns)
        if creating and nso["metadata"].get("deletionTimestamp"):
            raise forbidden("%s is forbidden: unable to create new content in namespace %s because "
                            "it is being terminated" % (ki.resource, ns), ki, None,
                            "NamespaceTerminating")

    def get(self, ki, ns, name):
        o = self.store.get(ki.gr, self.ns_of(ki, ns), name)
        if o is None:
            raise not_found(ki, name)
        return o

    # ---------------- list ----------------

    def list(self, ki, ns, q, version=None):
        lreqs = parse_label_selector(q.get("labelSelector"))
        freqs = parse_field_selector(q.get("fieldSelector"), ki.resource)
        limit = q.get("limit")
        try:
            limit = int(limit) if limit else 0
        except ValueError:
            raise bad_request("invalid limit: %s" % limit)
        cont = q.get("continue")
        if cont:
            try:
                tok = json.loads(base64.b64decode(cont + "=" * (-len(cont) % 4)))
                sid, off = int(tok["s"]), int(tok["o"])
            except Exception:
                raise bad_request("continue key is not valid: %s" % cont)
            snap = self.store.load_snapshot(sid)
            if snap is None:
                raise gone(CONTINUE_EXPIRED)
            rv, items = snap[1], snap[2]
        else:
            rvs, match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
            if match and not rvs:
                raise bad_request("resourceVersionMatch is forbidden unless resourceVersion is "
                                  "provided")
            want = self._parse_rv(rvs)
            if want and want > self.store.rv and not self.store.wait_rv(want):
                raise timeout_rv_too_large()
            if match == "Exact" and want:
                rv = want
                all_items = self.store.list_at(ki.gr, ns or None, want)
            else:
                rv, all_items = self.store.list(ki.gr, ns or None)
            items = [o for o in all_items if labels_match(lreqs, o["metadata"].get("labels"))
                     and fields_match(freqs, o)]
            off = 0
        md = {"resourceVersion": str(rv)}
        page = items[off:]
        if limit and len(page) > limit:
            page = page[:limit]
            sid = sid if cont else self.store.save_snapshot(rv, items)
            tok = json.dumps({"s": sid, "o": off + limit, "rv": rv}).encode()
            md["continue"] = base64.urlsafe_b64encode(tok).decode().rstrip("=")
            if not lreqs and not freqs:
                md["remainingItemCount"] = len(items) - off - limit
        if ki.builtin:
            page = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page]
        else:
            page = [self.out(ki, o, version) for o in page]
        return {"kind": ki.list_kind(), "apiVersion": ki.api_version(version), "metadata": md,
                "items": page}

    def _parse_rv(self, rvs):
        if not rvs:
            return 0
        try:
            v = int(rvs)
            if v < 0:
                raise ValueError
            return v
        except ValueError:
            raise bad_request("invalid resource version: %s" % rvs)

    def watch(self, ki, ns, q):
        """Register a watcher; returns (watcher, gone_error_or_None)."""
        lreqs = parse_label_selector(q.get("labelSelector"))
        freqs = parse_field_selector(q.get("fieldSelector"), ki.resource)
        if q.get("sendInitialEvents") is not None:
            raise bad_request("sendInitialEvents is not supported by this server "
                              "(WatchList feature disabled); use list+watch")
        rvs = q.get("resourceVersion", "")
        want = self._parse_rv(rvs)
        if want and want > self.store.rv and not self.store.wait_rv(want):
            raise timeout_rv_too_large()
        return self.store.watch(ki.gr, ns or None, lreqs, freqs, want if rvs not in ("", "0")
                                else None)

    # ---------------- create ----------------

    def _check_body(self, ki, body, ns, version):
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        av = body.get("apiVersion")
        if av and av != ki.api_version(version):
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (av, ki.api_version(version)))
        kind = body.get("kind")
        if kind and kind != ki.kind:
            raise bad_request("the kind in the data (%s) does not match the expected kind (%s)"
                              % (kind, ki.kind))
        md = body.get("metadata")
        if md is None:
            md = body["metadata"] = {}
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if ki.namespaced:
            if md.get("namespace") in (None, ""):
                md["namespace"] = ns
            elif md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
        else:
            md.pop("namespace", None)
        body["apiVersion"] = ki.api_version()
        body["kind"] = ki.kind

    def create(self, ki, ns, body, user, opts, version=None):
        """Create; returns (201, stored object). body is a private dict (mutated)."""
        self._check_body(ki, body, ns, version)
        md = body["metadata"]
        if md.get("resourceVersion"):
            raise internal("resourceVersion should not be set on objects to be created")
        for k in SYSTEM_META:
            md.pop(k, None)
        special = hooks.create_only(self, ki, ns, body, user, opts)
        if special is not None:
            return 201, special
        if ki.status and not (ki.builtin and ki.resource in ("nodes", "namespaces")):
            body.pop("status", None)
        objects.apply_defaults(ki, body, self)
        objects.validate_meta(ki, body, True)
        if not ki.builtin:
            schema.apply(ki, body, opts)
        self._require_ns(ki, ns)
        if ki.builtin and ki.resource == "pods":
            body = hooks.admit_pod(self, ki, ns, body, user, opts)
            md = body["metadata"]
        objects.validate(ki, body, None)
        hooks.before_create(self, ki, body, opts)
        with self.store.lock:
            self._require_ns(ki, ns)
            name = md.get("name")
            if not name:
                for _ in range(20):
                    name = md["generateName"] + objects.gen_suffix()
                    if self.store.get(ki.gr, self.ns_of(ki, ns), name) is None:
                        break
                md["name"] = name
            if self.store.get(ki.gr, self.ns_of(ki, ns), name) is not None:
                raise already_exists(ki, name)
            md["uid"] = objects.new_uid()
            md["creationTimestamp"] = objects.now_rfc3339()
            hooks.on_uid(ki, body)
            if objects.has_generation(ki):
                md["generation"] = 1
            if opts.dry_run:
                md["resourceVersion"] = ""
                return 201, body
            stored = self.store.commit(ki.gr, body, None)
        hooks.after_create(self, ki, stored)
        return 201, stored

    # ---------------- update ----------------

    def update(self, ki, ns, name, body, user, opts, sub=None, version=None):
        self._check_body(ki, body, ns, version)
        bname = body["metadata"].get("name")
        if bname != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (bname, name))
        with self.store.lock:
            old = self.store.get(ki.gr, self.ns_of(ki, ns), name)
            if old is None:
                if sub is None and ki.builtin and ki.resource in CREATE_ON_UPDATE \
                        and not body["metadata"].get("resourceVersion"):
                    return self.create(ki, ns, body, user, opts, version)
                raise not_found(ki, name)
            return 200, self._update_locked(ki, old, body, sub, opts)

    def _update_locked(self, ki, old, new, sub, opts, system=False):
        """Validate and store new (private) over old. Caller holds the store lock."""
        omd, md = old["metadata"], new["metadata"]
        name = omd["name"]
        rv = md.get("resourceVersion")
        if rv:
            if rv != omd["resourceVersion"]:
                raise conflict(ki, name)
        elif not ki.builtin:
            raise invalid(ki, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                      "Invalid value: 0x0: must be specified for an update")])
        if sub == "status":
            st = new.get("status")
            new = clone(old)
            if st is None:
                new.pop("status", None)
            else:
                new["status"] = st
            md = new["metadata"]
        elif sub == "finalize":
            fins = (new.get("spec") or {}).get("finalizers") or []
            new = clone(old)
            new.setdefault("spec", {})["finalizers"] = fins
            md = new["metadata"]
        else:
            for k in SYSTEM_META if not system else ("uid", "creationTimestamp"):
                if k in omd:
                    md[k] = omd[k]
                else:
                    md.pop(k, None)
            if md.get("managedFields") is None and omd.get("managedFields") is not None:
                md["managedFields"] = omd["managedFields"]
            if ki.status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            if ki.builtin and ki.resource == "namespaces":
                new["spec"] = old.get("spec", {})
            objects.apply_defaults(ki, new, self)
            objects.validate_meta(ki, new, False)
            objects.validate(ki, new, old)
            hooks.before_update(self, ki, new, old)
        if not ki.builtin and sub != "finalize":
            schema.apply(ki, new, opts)
        if omd.get("deletionTimestamp"):
            added = set(md.get("finalizers") or []) - set(omd.get("finalizers") or [])
            if added:
                raise invalid(ki, name, [("metadata.finalizers", "FieldValueForbidden",
                                          "Forbidden: no new finalizers can be added if the "
                                          "object is being deleted, found new finalizers %s"
                                          % json.dumps(sorted(added)))])
        md["resourceVersion"] = omd["resourceVersion"]
        if new == old:
            return old
        if objects.has_generation(ki) and sub != "status" and objects.spec_changed(ki, new, old):
            md["generation"] = omd.get("generation", 1) + 1
        if opts.dry_run:
            return new
        stored = self.store.commit(ki.gr, new, old)
        hooks.after_update(self, ki, stored, old)
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            pod_wait = ki.builtin and ki.resource == "pods" and \
                md.get("deletionGracePeriodSeconds", 0) > 0
            ns_wait = ki.builtin and ki.resource == "namespaces" and \
                (stored.get("spec") or {}).get("finalizers")
            if not pod_wait and not ns_wait:
                self._remove(ki, stored)
        return stored

    # ---------------- patch ----------------

    def patch(self, ki, ns, name, ctype, raw, user, opts, sub=None, version=None):
        ctype = (ctype or "").split(";")[0].strip().lower()
        if ctype == "application/apply-patch+yaml":
            return self._apply(ki, ns, name, raw, user, opts, sub, version)
        try:
            patch = json.loads(raw or b"null")
        except ValueError as e:
            raise bad_request("error decoding patch: %s" % e)
        if ctype == "application/strategic-merge-patch+json" and not ki.builtin:
            raise unsupported_media(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml")
        if ctype not in ("application/json-patch+json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json"):
            raise unsupported_media(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml" + (", application/strategic-merge-patch+json"
                                                  if ki.builtin else ""))
        if ctype != "application/json-patch+json" and not isinstance(patch, dict):
            raise bad_request("error decoding patch: the patch must be a JSON object")
        with self.store.lock:
            old = self.store.get(ki.gr, self.ns_of(ki, ns), name)
            if old is None:
                raise not_found(ki, name)
            doc = clone(old)
            doc["apiVersion"] = ki.api_version(version)
            try:
                if ctype == "application/json-patch+json":
                    doc = json_patch(doc, patch)
                elif ctype == "application/merge-patch+json":
                    doc = merge_patch(doc, patch)
                else:
                    doc = strategic_merge(doc, patch)
            except PatchError as e:
                raise ApiError(422, "Invalid", str(e), {"name": name, "kind": ki.kind,
                                                        "group": ki.group} if ki.group else
                               {"name": name, "kind": ki.kind})
            if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
                raise bad_request("the patched object is not a valid object")
            if doc["metadata"].get("name") != name:
                raise invalid(ki, name, [("metadata.name", "FieldValueInvalid",
                                          "Invalid value: %s: field is immutable"
                                          % json.dumps(doc["metadata"].get("name")))])
            self._check_body(ki, doc, ns, version)
            return 200, self._update_locked(ki, old, doc, sub, opts)

    def _apply(self, ki, ns, name, raw, user, opts, sub, version):
        if not opts.field_manager:
            raise bad_request("PATCH, fieldManager: Required value: is required for apply patch")
        cfg = parse_yaml_or_json(raw)
        if not isinstance(cfg, dict):
            raise bad_request("error decoding YAML: the apply body must be an object")
        if (cfg.get("metadata") or {}).get("name") not in (None, name):
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (cfg["metadata"]["name"], name))
        if self.store.get(ki.gr, self.ns_of(ki, ns), name) is None:
            if sub:
                raise not_found(ki, name)
            # create outside the store lock: pod creation calls admission webhooks
            live = {"apiVersion": ki.api_version(version), "kind": ki.kind,
                    "metadata": {"name": name}}
            server_side_apply(live, cfg, opts.field_manager, opts.force, ki.api_version())
            live["metadata"]["name"] = name
            return self.create(ki, ns, live, user, opts, version)
        with self.store.lock:
            old = self.store.get(ki.gr, self.ns_of(ki, ns), name)
            if old is None:
                raise conflict(ki, name, "the object was deleted while being applied")
            live = clone(old)
            server_side_apply(live, cfg, opts.field_manager, opts.force, ki.api_version())
            self._check_body(ki, live, ns, version)
            return 200, self._update_locked(ki, old, live, sub, opts)

    # ---------------- delete ----------------

    def delete(self, ki, ns, name, dopts, user, opts):
        """Returns (code, body) for a DELETE of one object."""
        dopts = dopts or {}
        with self.store.lock:
            old = self.store.get(ki.gr, self.ns_of(ki, ns), name)
            if old is None:
                raise not_found(ki, name)
            omd = old["metadata"]
            pre = dopts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != omd.get("uid"):
                raise conflict(ki, name, "Precondition failed: UID in precondition: %s, UID in "
                               "object meta: %s" % (pre["uid"], omd.get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != omd["resourceVersion"]:
                raise conflict(ki, name, "Precondition failed: ResourceVersion in precondition: "
                               "%s, ResourceVersion in object meta: %s"
                               % (pre["resourceVersion"], omd["resourceVersion"]))
            special = hooks.delete_special(self, ki, old, dopts, opts)
            if special is not None:
                return special
            policy = dopts.get("propagationPolicy")
            if policy is None and dopts.get("orphanDependents") is True:
                policy = "Orphan"
            fins = list(omd.get("finalizers") or [])
            if policy == "Orphan" and "orphan" not in fins:
                fins.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            if fins:
                if omd.get("deletionTimestamp"):
                    return 200, old
                new = clone(old)
                new["metadata"]["finalizers"] = fins
                new["metadata"]["deletionTimestamp"] = objects.now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if opts.dry_run:
                    return 200, new
                stored = self.store.commit(ki.gr, new, old)
                return (202 if dopts.get("orphanDependents") is False else 200), stored
            if opts.dry_run:
                return 200, success_status(ki, name, omd.get("uid"))
            final = self._remove(ki, old)
        if ki.builtin and ki.resource in ("pods", "services"):
            return 200, final
        return 200, success_status(ki, name, omd.get("uid"))

    def _remove(self, ki, obj):
        final = self.store.remove(ki.gr, obj)
        if final is not None:
            hooks.after_delete(self, ki, final)
        return final

    def delete_collection(self, ki, ns, q, dopts, user, opts):
        lst = self.list(ki, ns, {k: q[k] for k in ("labelSelector", "fieldSelector") if k in q})
        for o in lst["items"]:
            try:
                self.delete(ki, o["metadata"].get("namespace", ""), o["metadata"]["name"], dopts,
                            user, opts)
            except ApiError as e:
                if e.code != 404:
                    raise
        return 200, lst

    # ---------------- internal helpers for controllers ----------------

    def mutate(self, ki, ns, name, fn, sub=None, retries=10):
        """Read-modify-write with retry on conflict; fn(obj) mutates a copy (False: skip)."""
        for _ in range(retries):
            with self.store.lock:
                old = self.store.get(ki.gr, self.ns_of(ki, ns), name)
                if old is None:
                    return None
                new = clone(old)
                if fn(new) is False:
                    return old
                try:
                    return self._update_locked(ki, old, new, sub, Options(), system=True)
                except ApiError as e:
                    if e.code != 409:
                        raise
        return None


def parse_yaml_or_json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        import yaml  # optional: Debian's python3-yaml; kubectl sends JSON anyway
    except ImportError:
        raise bad_request("error decoding YAML: only JSON apply bodies are supported by this "
                          "emulator (python3-yaml is not installed)")
    try:
        return yaml.safe_load(raw)
    except Exception as e:
        raise bad_request("error decoding YAML: %s" % e)


def wait_seconds(t):
    time.sleep(t)
