"""Workload controllers: Deployment -> ReplicaSet -> Pods (through admission), Job -> Pods,
and Endpoints/EndpointSlices from Services and ready Pods."""

import json

import objects
from api import Options
from hooks import CONTROLLER_USER
from labelsel import selector_obj_matches
from status import ApiError
from store import clone

POD = ("", "pods")
SVC = ("", "services")
EP = ("", "endpoints")
EPS = ("discovery.k8s.io", "endpointslices")
RS = ("apps", "replicasets")
DEPLOY = ("apps", "deployments")
JOB = ("batch", "jobs")
EVENT = ("", "events")
REV = "deployment.kubernetes.io/revision"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CTRL = "endpointslice-controller.k8s.io"


def template_hash(tpl):
    """Like the deployment controller: FNV-32a of the template, safe-encoded."""
    h = 0x811C9DC5
    for b in json.dumps(tpl, sort_keys=True).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(objects.NAME_CHARS[ord(c) % len(objects.NAME_CHARS)] for c in str(h))


def controller_of(obj):
    for r in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if r.get("controller"):
            return r
    return None


def owner_ref(ki, obj):
    return {"apiVersion": ki.api_version(), "kind": ki.kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def pod_ready(p):
    for c in (p.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _abs(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        x = int(v[:-1]) * total / 100.0
        return int(-(-x // 1)) if round_up else int(x // 1)
    return int(v or 0)


class Workloads:
    def __init__(self, api, cfg, stop, Loop):
        self.api, self.cfg, self.store, self.reg = api, cfg, api.store, api.reg
        self.deploy = Loop("deployment", self.sync_deployment, stop)
        self.rs = Loop("replicaset", self.sync_replicaset, stop)
        self.job = Loop("job", self.sync_job, stop)
        self.ep = Loop("endpoints", self.sync_endpoints, stop)
        self.loops = [self.deploy, self.rs, self.job, self.ep]
        self.backoff = {}

    def ki(self, gr):
        return self.reg.by_gr(*gr)

    def route(self, gr, ns, name, obj, old, typ):
        """Called under the store lock: enqueue only."""
        if gr == DEPLOY:
            self.deploy.q.add((ns, name))
        elif gr == RS:
            self.rs.q.add((ns, name))
            ref = controller_of(obj)
            if ref and ref.get("kind") == "Deployment":
                self.deploy.q.add((ns, ref.get("name")))
        elif gr == JOB:
            self.job.q.add((ns, name))
        elif gr == SVC:
            self.ep.q.add((ns, name))
        elif gr in (EP, EPS) and typ == "DELETED":
            svc = ((obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
                   if gr == EPS else name)
            if svc:
                self.ep.q.add((ns, svc))
        elif gr == POD:
            ref = controller_of(obj)
            if ref and ref.get("kind") == "ReplicaSet":
                self.rs.q.add((ns, ref.get("name")))
            elif ref and ref.get("kind") == "Job":
                self.job.q.add((ns, ref.get("name")))
            labels = [(obj["metadata"].get("labels") or {})]
            if old is not None:
                labels.append(old["metadata"].get("labels") or {})
            for svc in self.store.list(SVC, ns)[1]:
                sel = (svc.get("spec") or {}).get("selector")
                if sel and any(all(lb.get(k) == v for k, v in sel.items()) for lb in labels):
                    self.ep.q.add((ns, svc["metadata"]["name"]))

    def _owned(self, gr, owner):
        uid = owner["metadata"]["uid"]
        return [o for g, o in self.store.dependents(uid)
                if g == gr and (controller_of(o) or {}).get("uid") == uid]

    def event(self, obj, ki, typ, reason, message):
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        name = "%s.%s" % (md["name"], reason.lower())
        now = objects.now_rfc3339()
        eki = self.ki(EVENT)
        cur = self.store.get(EVENT, ns, name)
        if cur is not None:
            self.api.mutate(eki, ns, name, lambda o: o.update(
                count=o.get("count", 1) + 1, lastTimestamp=now, message=message))
            return
        try:
            self.api.create(eki, ns, {"metadata": {"name": name}, "involvedObject": {
                "kind": ki.kind, "namespace": md.get("namespace"), "name": md["name"],
                "uid": md["uid"], "apiVersion": ki.api_version(),
                "resourceVersion": md.get("resourceVersion")},
                "reason": reason, "message": message, "type": typ, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now,
                "source": {"component": ki.resource[:-1] + "-controller"}}, CONTROLLER_USER,
                Options())
        except ApiError:
            pass

    # ---- ReplicaSet ----

    def _create_pods(self, owner, owner_ki, tpl, n, key, loop):
        pod_ki = self.ki(POD)
        md = tpl.get("metadata") or {}
        for _ in range(n):
            body = {"metadata": {"generateName": owner["metadata"]["name"] + "-",
                                 "labels": dict(md.get("labels") or {}),
                                 "ownerReferences": [owner_ref(owner_ki, owner)]},
                    "spec": clone(tpl.get("spec") or {})}
            if md.get("annotations"):
                body["metadata"]["annotations"] = dict(md["annotations"])
            try:
                self.api.create(pod_ki, owner["metadata"]["namespace"], body, CONTROLLER_USER,
                                Options())
            except ApiError as e:
                delay = min(10.0, self.backoff.get(key, 0.5) * 2)
                self.backoff[key] = delay
                self.event(owner, owner_ki, "Warning", "FailedCreate",
                           "Error creating: " + e.message)
                loop.q.add(key, delay)
                return e.message
        self.backoff.pop(key, None)
        return None

    def sync_replicaset(self, key):
        ns, name = key
        rs = self.store.get(RS, ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        ki = self.ki(RS)
        spec = rs.get("spec") or {}
        pods = [p for p in self._owned(POD, rs) if selector_obj_matches(
            spec.get("selector"), p["metadata"].get("labels"))]
        active = [p for p in pods if not p["metadata"].get("deletionTimestamp") and
                  (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        want = spec.get("replicas", 1)
        failure = None
        if len(active) < want:
            failure = self._create_pods(rs, ki, spec.get("template") or {}, want - len(active),
                                        key, self.rs)
        elif len(active) > want:
            victims = sorted(active, key=lambda p: (pod_ready(p), bool(
                (p.get("status") or {}).get("podIP")), p["metadata"]["creationTimestamp"]))
            for p in victims[:len(active) - want]:
                try:
                    self.api.delete(self.ki(POD), ns, p["metadata"]["name"], {}, None, Options())
                except ApiError as e:
                    if e.code != 404:
                        raise
        pods = [p for p in self._owned(POD, rs) if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        ready = sum(1 for p in pods if pod_ready(p))

        def st(o):
            s = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                 "readyReplicas": ready, "availableReplicas": ready,
                 "observedGeneration": o["metadata"].get("generation", 1)}
            if failure:
                s["conditions"] = [{"type": "ReplicaFailure", "status": "True",
                                    "reason": "FailedCreate", "message": failure,
                                    "lastTransitionTime": objects.now_rfc3339()}]
            if not s["readyReplicas"]:
                del s["readyReplicas"]
            if not s["availableReplicas"]:
                del s["availableReplicas"]
            o["status"] = s
        self.api.mutate(ki, ns, name, st, sub="status")

    # ---- Deployment ----

    def sync_deployment(self, key):
        ns, name = key
        d = self.store.get(DEPLOY, ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        rs_ki, d_ki = self.ki(RS), self.ki(DEPLOY)
        spec = d.get("spec") or {}
        want = spec.get("replicas", 1)
        tpl = clone(spec.get("template") or {})
        h = template_hash(tpl)
        rss = self._owned(RS, d)
        new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get(
            "pod-template-hash") == h), None)
        olds = [r for r in rss if r is not new_rs]
        revs = [int((r["metadata"].get("annotations") or {}).get(REV, "0") or 0) for r in rss]
        maxrev = max(revs or [0])
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        old_pods = sum((r.get("status") or {}).get("replicas", 0) for r in olds)
        paused = spec.get("paused")
        if new_rs is None and not paused:
            labels = dict((tpl.get("metadata") or {}).get("labels") or {})
            labels["pod-template-hash"] = h
            tpl.setdefault("metadata", {})["labels"] = labels
            sel = clone(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            body = {"metadata": {"name": "%s-%s" % (name, h), "labels": labels,
                                 "annotations": {REV: str(maxrev + 1),
                                                 "deployment.kubernetes.io/desired-replicas":
                                                 str(want),
                                                 "deployment.kubernetes.io/max-replicas":
                                                 str(want)},
                                 "ownerReferences": [owner_ref(d_ki, d)]},
                    "spec": {"replicas": 0 if (recreate and old_pods) else want,
                             "selector": sel, "template": tpl}}
            try:
                _, new_rs = self.api.create(rs_ki, ns, body, CONTROLLER_USER, Options())
            except ApiError as e:
                if e.code != 409:
                    raise
                return
        elif new_rs is not None and not paused:
            target = 0 if (recreate and old_pods) else want
            rev = (new_rs["metadata"].get("annotations") or {}).get(REV, "0")
            bump = int(rev or 0) < maxrev

            def scale(o):
                if o["spec"].get("replicas") == target and not bump:
                    return False
                o["spec"]["replicas"] = target
                ann = o["metadata"].setdefault("annotations", {})
                ann["deployment.kubernetes.io/desired-replicas"] = str(want)
                if bump:
                    ann[REV] = str(maxrev + 1)
            new_rs = self.api.mutate(rs_ki, ns, new_rs["metadata"]["name"], scale) or new_rs
        new_avail = (new_rs.get("status") or {}).get("availableReplicas", 0) if new_rs else 0
        if not paused:
            allowed = 0 if recreate else max(0, want - new_avail)
            for r in sorted(olds, key=lambda x: x["metadata"]["creationTimestamp"]):
                cur = (r.get("spec") or {}).get("replicas", 0)
                keep = min(cur, allowed)
                allowed -= keep
                if keep != cur:
                    self.api.mutate(rs_ki, ns, r["metadata"]["name"],
                                    lambda o, k=keep: o["spec"].__setitem__("replicas", k))
            self._prune_history(d, olds, rs_ki)
        rss = self._owned(RS, d)
        new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get(
            "pod-template-hash") == h), None)
        sts = [r.get("status") or {} for r in rss]
        replicas = sum(s.get("replicas", 0) for s in sts)
        ready = sum(s.get("readyReplicas", 0) for s in sts)
        avail = sum(s.get("availableReplicas", 0) for s in sts)
        updated = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
        max_unavail = 0 if recreate else _abs(((spec.get("strategy") or {}).get(
            "rollingUpdate") or {}).get("maxUnavailable", "25%"), want, False)
        complete = new_rs is not None and updated == want and replicas == want and avail == want
        now = objects.now_rfc3339()
        rsname = new_rs["metadata"]["name"] if new_rs else "%s-%s" % (name, h)

        def st(o):
            s = o.get("status") or {}
            conds = {c["type"]: c for c in s.get("conditions") or []}
            a_ok = avail >= want - max_unavail
            want_conds = [
                ("Available", "True" if a_ok else "False",
                 "MinimumReplicasAvailable" if a_ok else "MinimumReplicasUnavailable",
                 "Deployment has minimum availability." if a_ok else
                 "Deployment does not have minimum availability."),
                ("Progressing", "True",
                 "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                 'ReplicaSet "%s" has successfully progressed.' % rsname if complete else
                 'ReplicaSet "%s" is progressing.' % rsname)]
            out = []
            for t, stt, reason, msg in want_conds:
                c = conds.get(t)
                if c is None or c.get("status") != stt or c.get("reason") != reason:
                    c = {"type": t, "status": stt, "reason": reason, "message": msg,
                         "lastUpdateTime": now, "lastTransitionTime": now if c is None or
                         c.get("status") != stt else c.get("lastTransitionTime", now)}
                out.append(c)
            ns_ = {"observedGeneration": o["metadata"].get("generation", 1),
                   "replicas": replicas, "updatedReplicas": updated, "readyReplicas": ready,
                   "availableReplicas": avail, "conditions": out}
            if want - avail > 0:
                ns_["unavailableReplicas"] = want - avail
            for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
                if not ns_[k]:
                    del ns_[k]
            o["status"] = ns_
        self.api.mutate(self.ki(DEPLOY), ns, name, st, sub="status")

    def _prune_history(self, d, olds, rs_ki):
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
        idle = [r for r in olds if not (r.get("spec") or {}).get("replicas") and
                not (r.get("status") or {}).get("replicas")]
        idle.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REV, "0") or 0))
        for r in idle[:max(0, len(idle) - limit)]:
            try:
                self.api.delete(rs_ki, r["metadata"]["namespace"], r["metadata"]["name"], {},
                                None, Options())
            except ApiError:
                pass

    # ---- Job ----

    def sync_job(self, key):
        ns, name = key
        job = self.store.get(JOB, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        ki = self.ki(JOB)
        spec = job.get("spec") or {}
        st = job.get("status") or {}
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in st.get("conditions") or []):
            return
        pods = self._owned(POD, job)
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in (
            "Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")]
        completions = spec.get("completions", 1)
        done = completions is not None and succeeded >= completions
        if not done and not spec.get("suspend"):
            left = (completions - succeeded) if completions is not None else 1
            want = min(spec.get("parallelism", 1), left) - len(active)
            if want > 0:
                self._create_pods(job, ki, spec.get("template") or {}, want, key, self.job)
                active = [p for p in self._owned(POD, job) if (p.get("status") or {}).get(
                    "phase") not in ("Succeeded", "Failed")]
        now = objects.now_rfc3339()

        def upd(o):
            s = o.setdefault("status", {})
            s.setdefault("startTime", now)
            s["active"] = len(active) if not done else 0
            s["ready"] = sum(1 for p in active if pod_ready(p)) if not done else 0
            s["succeeded"] = succeeded
            if failed:
                s["failed"] = failed
            s["terminating"] = 0
            s["uncountedTerminatedPods"] = {}
            for k in ("active", "succeeded"):
                if not s[k]:
                    del s[k]
            if done:
                s["completionTime"] = now
                s["conditions"] = [
                    {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                     "message": "Reached expected number of succeeded pods",
                     "lastProbeTime": now, "lastTransitionTime": now},
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                     "message": "Reached expected number of succeeded pods",
                     "lastProbeTime": now, "lastTransitionTime": now}]
        self.api.mutate(ki, ns, name, upd, sub="status")

    # ---- Endpoints / EndpointSlices ----

    def sync_endpoints(self, key):
        ns, name = key
        svc = self.store.get(SVC, ns, name)
        ep_ki, eps_ki = self.ki(EP), self.ki(EPS)
        slices = [s for s in self.store.list(EPS, ns)[1] if (s["metadata"].get("labels") or {})
                  .get("kubernetes.io/service-name") == name and (s["metadata"].get("labels") or
                                                                   {}).get(MANAGED_BY) == SLICE_CTRL]
        sel = (svc.get("spec") or {}).get("selector") if svc else None
        if svc is None or not sel:
            cur = self.store.get(EP, ns, name)
            if svc is None and cur is not None and (cur["metadata"].get("annotations") or {}).get(
                    "emulator.mizzen.io/managed") == "true":
                self.api.delete(ep_ki, ns, name, {}, None, Options())
            for s in slices:
                self.api.delete(eps_ki, ns, s["metadata"]["name"], {}, None, Options())
            return
        spec = svc.get("spec") or {}
        publish = spec.get("publishNotReadyAddresses", False)
        groups = {}  # ports tuple -> list of (pod, ready, serving, terminating)
        for p in self.store.list(POD, ns)[1]:
            labels = p["metadata"].get("labels") or {}
            if not all(labels.get(k) == v for k, v in sel.items()):
                continue
            st = p.get("status") or {}
            if not st.get("podIP") or st.get("phase") in ("Succeeded", "Failed"):
                continue
            ports = []
            for sp in spec.get("ports") or []:
                tp = sp.get("targetPort", sp.get("port"))
                if isinstance(tp, str) and not tp.isdigit():
                    num = next((cp.get("containerPort") for c in (p.get("spec") or {}).get(
                        "containers") or [] for cp in c.get("ports") or [] if cp.get("name") == tp
                        and cp.get("protocol", "TCP") == sp.get("protocol", "TCP")), None)
                    if num is None:
                        continue
                else:
                    num = int(tp)
                ports.append((sp.get("name", ""), num, sp.get("protocol", "TCP")))
            if spec.get("ports") and not ports:
                continue
            term = bool(p["metadata"].get("deletionTimestamp"))
            ready = pod_ready(p) and not term
            groups.setdefault(tuple(ports), []).append((p, ready or publish, pod_ready(p), term))
        self._write_endpoints(svc, groups, ep_ki)
        self._write_slices(svc, groups, slices, eps_ki)

    def _write_endpoints(self, svc, groups, ep_ki):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        subsets = []
        for ports, eps in sorted(groups.items()):
            ready = [_addr(p) for p, r, _, t in eps if r]
            notready = [_addr(p) for p, r, _, t in eps if not r and not t]
            if not ready and not notready:
                continue
            ss = {}
            if ready:
                ss["addresses"] = sorted(ready, key=lambda a: a["ip"])
            if notready:
                ss["notReadyAddresses"] = sorted(notready, key=lambda a: a["ip"])
            ss["ports"] = [dict({"port": n, "protocol": pr}, **({"name": pn} if pn else {}))
                           for pn, n, pr in ports]
            subsets.append(ss)
        labels = dict(svc["metadata"].get("labels") or {})
        cur = self.store.get(EP, ns, name)
        if cur is None:
            body = {"metadata": {"name": name, "labels": labels, "annotations": {
                "emulator.mizzen.io/managed": "true"}}}
            if subsets:
                body["subsets"] = subsets
            try:
                self.api.create(ep_ki, ns, body, CONTROLLER_USER, Options())
            except ApiError as e:
                if e.code != 409:
                    raise
                self.ep.q.add((ns, name), 0.05)
            return

        def upd(o):
            if (o.get("subsets") or []) == subsets and (o["metadata"].get("labels") or {}) == \
                    labels:
                return False
            o["metadata"]["labels"] = labels
            if subsets:
                o["subsets"] = subsets
            else:
                o.pop("subsets", None)
        self.api.mutate(ep_ki, ns, name, upd)

    def _write_slices(self, svc, groups, slices, eps_ki):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        svc_ki = self.ki(SVC)
        wanted = []
        for ports, eps in sorted(groups.items()):
            endpoints = []
            for p, r, serving, term in sorted(eps, key=lambda e: e[0]["status"]["podIP"]):
                endpoints.append({"addresses": [p["status"]["podIP"]],
                                  "conditions": {"ready": r, "serving": serving,
                                                 "terminating": term},
                                  "nodeName": (p.get("spec") or {}).get("nodeName"),
                                  "targetRef": {"kind": "Pod", "namespace": ns,
                                                "name": p["metadata"]["name"],
                                                "uid": p["metadata"]["uid"]}})
            wanted.append(([{"name": pn, "port": n, "protocol": pr} for pn, n, pr in ports],
                           endpoints))
        if not wanted:
            wanted = [(None, [])]
        labels = dict(svc["metadata"].get("labels") or {})
        labels.update({"kubernetes.io/service-name": name, MANAGED_BY: SLICE_CTRL})
        free = list(slices)
        for ports, endpoints in wanted:
            match = next((s for s in free if s.get("ports") == ports), None) or (
                free[0] if free else None)
            if match is None:
                body = {"metadata": {"generateName": name + "-", "labels": labels,
                                     "ownerReferences": [owner_ref(svc_ki, svc)]},
                        "addressType": "IPv4", "endpoints": endpoints, "ports": ports}
                self.api.create(eps_ki, ns, body, CONTROLLER_USER, Options())
                continue
            free.remove(match)

            def upd(o, ports=ports, endpoints=endpoints):
                if o.get("ports") == ports and o.get("endpoints") == endpoints and \
                        o["metadata"].get("labels") == labels:
                    return False
                o.update(ports=ports, endpoints=endpoints)
                o["metadata"]["labels"] = labels
            self.api.mutate(eps_ki, ns, match["metadata"]["name"], upd)
        for s in free:
            self.api.delete(eps_ki, ns, s["metadata"]["name"], {}, None, Options())


def _addr(p):
    return {"ip": p["status"]["podIP"], "nodeName": (p.get("spec") or {}).get("nodeName"),
            "targetRef": {"kind": "Pod", "namespace": p["metadata"]["namespace"],
                          "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}
