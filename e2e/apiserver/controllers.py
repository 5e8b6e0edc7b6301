"""Background controllers: work queues fed by store events, the emulated scheduler+kubelet,
namespace termination, garbage collection and the service-account token controller.
Workload controllers (Deployment, ReplicaSet, Job) and endpoints live in workloads.py."""

import base64
import collections
import heapq
import threading
import time

import objects
import workloads
from api import Options
from status import ApiError

POD = ("", "pods")
NS = ("", "namespaces")
SVC = ("", "services")
SECRET = ("", "secrets")
SA = ("", "serviceaccounts")
NOT_READY = "emulator.mizzen.io/not-ready"
SA_TOKEN = "kubernetes.io/service-account-token"


class WorkQueue:
    """De-duplicating queue with delayed adds, drained by one thread."""

    def __init__(self):
        self.cv = threading.Condition()
        self.ready = collections.OrderedDict()
        self.delayed = []
        self.seq = 0

    def add(self, key, delay=0.0):
        with self.cv:
            if delay > 0:
                self.seq += 1
                heapq.heappush(self.delayed, (time.monotonic() + delay, self.seq, key))
            else:
                self.ready[key] = True
            self.cv.notify()

    def get(self, stop):
        with self.cv:
            while not stop.is_set():
                now = time.monotonic()
                while self.delayed and self.delayed[0][0] <= now:
                    self.ready[heapq.heappop(self.delayed)[2]] = True
                if self.ready:
                    return self.ready.popitem(last=False)[0]
                wait = self.delayed[0][0] - now if self.delayed else 0.5
                self.cv.wait(min(wait, 0.5))
        return None


class Loop:
    def __init__(self, name, fn, stop):
        self.name, self.fn, self.stop = name, fn, stop
        self.q = WorkQueue()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self):
        while not self.stop.is_set():
            key = self.q.get(self.stop)
            if key is None:
                continue
            try:
                self.fn(key)
            except ApiError as e:
                if e.code in (404, 409):
                    self.q.add(key, 0.05)
                else:
                    print("controller %s: %s: %s" % (self.name, key, e.message), flush=True)
                    self.q.add(key, 1.0)
            except Exception:
                import traceback
                traceback.print_exc()
                self.q.add(key, 1.0)


class Controllers:
    def __init__(self, api, cfg):
        self.api, self.cfg, self.store, self.reg = api, cfg, api.store, api.reg
        self.stop_ev = threading.Event()
        self.kubelet = Loop("kubelet", self.sync_pod, self.stop_ev)
        self.nsloop = Loop("namespace", self.sync_namespace, self.stop_ev)
        self.gc = Loop("garbage-collector", self.sync_gc, self.stop_ev)
        self.tokens = Loop("tokens", self.sync_token_secret, self.stop_ev)
        self.w = workloads.Workloads(api, cfg, self.stop_ev, Loop)
        self.loops = [self.kubelet, self.nsloop, self.gc, self.tokens] + self.w.loops
        self.pod_deadlines = {}
        self.store.listeners.append(self.on_event)

    def start(self):
        for l in self.loops:
            l.thread.start()
        for gr, o in self.store.all_items():  # resync after a state load / at start
            md = o["metadata"]
            self._route(gr, md.get("namespace", ""), md["name"], o, None, "ADDED")

    def stop(self):
        self.stop_ev.set()

    def ki(self, gr):
        return self.reg.by_gr(*gr)

    # ---- event routing (called under the store lock: only enqueue) ----

    def on_event(self, ev):
        self._route(ev.gr, ev.ns, ev.name, ev.obj, ev.old, ev.type)

    def _route(self, gr, ns, name, obj, old, typ):
        md = obj.get("metadata") or {}
        if gr == POD:
            self.kubelet.q.add((ns, name))
        elif gr == NS:
            self.nsloop.q.add(name)
        elif gr == SECRET and obj.get("type") == SA_TOKEN and typ != "DELETED":
            self.tokens.q.add((ns, name))
        elif gr == SA and typ == "DELETED":
            self.tokens.q.add(("sa-deleted", ns, name))
        if typ == "DELETED":
            if md.get("uid"):
                self.gc.q.add(md["uid"])
            if ns:
                nso = self.store.get(NS, "", ns)
                if nso is not None and nso["metadata"].get("deletionTimestamp"):
                    self.nsloop.q.add(ns)
        elif md.get("deletionTimestamp") and (
                {"orphan", "foregroundDeletion"} & set(md.get("finalizers") or [])):
            self.gc.q.add(("finalizer", gr, ns, name))
        self.w.route(gr, ns, name, obj, old, typ)

    # ---- scheduler + kubelet ----

    def sync_pod(self, key):
        ns, name = key
        pod = self.store.get(POD, ns, name)
        if pod is None:
            return
        md = pod["metadata"]
        ki = self.ki(POD)
        if md.get("deletionTimestamp"):
            uid = md["uid"]
            if md.get("deletionGracePeriodSeconds", 0) == 0:
                self.pod_deadlines.pop(uid, None)
                return
            due = self.pod_deadlines.get(uid)
            now = time.monotonic()
            if due is None:
                wait = min(float(md.get("deletionGracePeriodSeconds", 0)),
                           self.cfg.pod_termination_seconds)
                self.pod_deadlines[uid] = due = now + wait
                self._set_status(ns, name, self._terminating_status)
            if now < due:
                self.kubelet.q.add(key, due - now)
                return
            self.pod_deadlines.pop(uid, None)

            def final(o):
                if o["metadata"]["uid"] != uid:
                    return False
                o["metadata"]["deletionGracePeriodSeconds"] = 0
            self.api.mutate(ki, ns, name, final)
            return
        spec = pod.get("spec") or {}
        if not spec.get("nodeName"):
            self.api.mutate(ki, ns, name, lambda o: o["spec"].__setitem__("nodeName",
                                                                          self.cfg.node_name))
            return
        st = pod.get("status") or {}
        created = time.time()
        if self.cfg.pod_start_delay > 0 and not st.get("podIP"):
            age = created - _epoch(md.get("creationTimestamp"))
            if age < self.cfg.pod_start_delay:
                self.kubelet.q.add(key, self.cfg.pod_start_delay - age)
                return
        self._set_status(ns, name, self._running_status)
        cur = self.store.get(POD, ns, name)
        if cur is not None and _job_pod(cur) and (cur.get("status") or {}).get("phase") == \
                "Running":
            started = _epoch((cur.get("status") or {}).get("startTime"))
            left = started + self.cfg.job_pod_seconds - time.time()
            if left > 0:
                self.kubelet.q.add(key, left)
            else:
                self._set_status(ns, name, self._succeeded_status)

    def _set_status(self, ns, name, fn):
        def mut(o):
            before = objects_json(o.get("status"))
            fn(o)
            return None if objects_json(o.get("status")) != before else False
        try:
            self.api.mutate(self.ki(POD), ns, name, mut, sub="status")
        except ApiError as e:
            if e.code != 404:
                raise

    def _running_status(self, pod):
        st = pod.setdefault("status", {})
        if st.get("phase") in ("Succeeded", "Failed"):
            return
        spec = pod.get("spec") or {}
        now = objects.now_rfc3339()
        if not st.get("podIP"):
            ip = self.api.pod_ips.take()
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
            st["hostIP"] = "127.0.0.1"
            st["hostIPs"] = [{"ip": "127.0.0.1"}]
            st["startTime"] = now
        st["phase"] = "Running"
        ready = ((pod["metadata"].get("annotations") or {}).get(NOT_READY) != "true")
        conds = {c["type"]: c for c in st.get("conditions") or []}
        want = [("PodReadyToStartContainers", True), ("Initialized", True), ("Ready", ready),
                ("ContainersReady", ready), ("PodScheduled", True)]
        out = []
        for t, ok in want:
            c = conds.get(t)
            s = "True" if ok else "False"
            if c is None or c.get("status") != s:
                c = {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": now}
                if not ok:
                    c["reason"] = "ContainersNotReady"
                    c["message"] = "containers with unready status: [%s]" % " ".join(
                        x.get("name", "") for x in spec.get("containers") or [])
            out.append(c)
        st["conditions"] = out
        old = {c.get("name"): c for c in st.get("containerStatuses") or []}
        cs = []
        for i, c in enumerate(spec.get("containers") or []):
            prev = old.get(c.get("name")) or {}
            started = ((prev.get("state") or {}).get("running") or {}).get("startedAt", now)
            cs.append({"name": c.get("name"), "image": c.get("image"),
                       "imageID": "docker-pullable://%s@sha256:%064x" % (c.get("image"), i),
                       "containerID": prev.get("containerID") or "containerd://%s" % (
                           pod["metadata"]["uid"].replace("-", "") + "%02d" % i),
                       "ready": ready, "started": True, "restartCount": 0,
                       "state": {"running": {"startedAt": started}}, "lastState": {}})
        st["containerStatuses"] = cs
        ics = []
        for i, c in enumerate(spec.get("initContainers") or []):
            ics.append({"name": c.get("name"), "image": c.get("image"), "ready": True,
                        "restartCount": 0, "started": False, "imageID": "",
                        "containerID": "containerd://init%02d" % i, "lastState": {},
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                 "startedAt": now, "finishedAt": now}}})
        if ics:
            st["initContainerStatuses"] = ics

    def _terminating_status(self, pod):
        st = pod.setdefault("status", {})
        for c in st.get("conditions") or []:
            if c.get("type") in ("Ready", "ContainersReady") and c.get("status") == "True":
                c["status"] = "False"
                c["lastTransitionTime"] = objects.now_rfc3339()
        for c in st.get("containerStatuses") or []:
            c["ready"] = False

    def _succeeded_status(self, pod):
        st = pod.setdefault("status", {})
        now = objects.now_rfc3339()
        st["phase"] = "Succeeded"
        for c in st.get("conditions") or []:
            if c.get("type") in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                c.update(status="False", reason="PodCompleted", lastTransitionTime=now)
        for c in st.get("containerStatuses") or []:
            started = ((c.get("state") or {}).get("running") or {}).get("startedAt", now)
            c.update(ready=False, started=False, state={"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now,
                "containerID": c.get("containerID")}})
        ip = st.get("podIP")
        if ip:
            self.api.pod_ips.release(ip)

    # ---- namespace termination ----

    def sync_namespace(self, name):
        nso = self.store.get(NS, "", name)
        if nso is None or not nso["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for ki in self.reg.all():
            if not ki.namespaced or ki.verbs == ["create"]:
                continue
            _, items = self.store.list(ki.gr, name)
            for o in items:
                remaining += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(ki, name, o["metadata"]["name"],
                                    {"propagationPolicy": "Background"},
                                    None, Options())
                except ApiError as e:
                    if e.code != 404:
                        raise
        if remaining:
            still = sum(len(self.store.list(ki.gr, name)[1]) for ki in self.reg.all()
                        if ki.namespaced)
            if still:
                self.nsloop.q.add(name, 0.2)
                return
        self.api.mutate(self.ki(NS), "", name,
                        lambda o: o.setdefault("spec", {}).__setitem__("finalizers", []),
                        sub="finalize")

    # ---- garbage collector ----

    def sync_gc(self, key):
        if isinstance(key, tuple):
            return self._gc_finalizer(*key[1:])
        for gr, dep in self.store.dependents(key):
            md = dep["metadata"]
            refs = md.get("ownerReferences") or []
            alive = [r for r in refs if self.store.by_uid(r.get("uid")) is not None]
            ki = self.ki(gr)
            if ki is None:
                continue
            ns = md.get("namespace", "")
            if not alive:
                if not md.get("deletionTimestamp"):
                    try:
                        self.api.delete(ki, ns, md["name"], {"propagationPolicy": "Background"},
                                        None, Options())
                    except ApiError as e:
                        if e.code != 404:
                            raise
            else:
                uid = md["uid"]
                self.api.mutate(ki, ns, md["name"], lambda o: o["metadata"]["uid"] == uid and
                                o["metadata"].__setitem__("ownerReferences", [
                                    r for r in o["metadata"].get("ownerReferences") or []
                                    if r.get("uid") != key]))

    def _gc_finalizer(self, gr, ns, name):
        obj = self.store.get(gr, ns, name)
        ki = self.ki(gr)
        if obj is None or ki is None or not obj["metadata"].get("deletionTimestamp"):
            return
        uid = obj["metadata"]["uid"]
        fins = obj["metadata"].get("finalizers") or []
        deps = self.store.dependents(uid)
        if "orphan" in fins:
            for dgr, d in deps:
                self.api.mutate(self.ki(dgr), d["metadata"].get("namespace", ""),
                                d["metadata"]["name"], lambda o: o["metadata"].__setitem__(
                                    "ownerReferences", [r for r in o["metadata"].get(
                                        "ownerReferences") or [] if r.get("uid") != uid]))
            self._drop_finalizer(ki, ns, name, "orphan")
        elif "foregroundDeletion" in fins:
            if deps:
                for dgr, d in deps:
                    if not d["metadata"].get("deletionTimestamp"):
                        try:
                            self.api.delete(self.ki(dgr), d["metadata"].get("namespace", ""),
                                            d["metadata"]["name"],
                                            {"propagationPolicy": "Foreground"}, None, Options())
                        except ApiError as e:
                            if e.code != 404:
                                raise
                self.gc.q.add(("finalizer", gr, ns, name), 0.1)
                return
            self._drop_finalizer(ki, ns, name, "foregroundDeletion")

    def _drop_finalizer(self, ki, ns, name, fin):
        self.api.mutate(ki, ns, name, lambda o: o["metadata"].__setitem__(
            "finalizers", [f for f in o["metadata"].get("finalizers") or [] if f != fin]))

    # ---- service-account token secrets (legacy) ----

    def sync_token_secret(self, key):
        if key[0] == "sa-deleted":
            _, ns, sa = key
            _, secrets = self.store.list(SECRET, ns)
            for s in secrets:
                if s.get("type") == SA_TOKEN and (s["metadata"].get("annotations") or {}).get(
                        "kubernetes.io/service-account.name") == sa:
                    try:
                        self.api.delete(self.ki(SECRET), ns, s["metadata"]["name"], {}, None,
                                        Options())
                    except ApiError:
                        pass
            return
        ns, name = key
        s = self.store.get(SECRET, ns, name)
        if s is None:
            return
        ann = s["metadata"].get("annotations") or {}
        sa_name = ann.get("kubernetes.io/service-account.name")
        sa = self.store.get(SA, ns, sa_name) if sa_name else None
        if sa is None:
            self.api.delete(self.ki(SECRET), ns, name, {}, None, Options())
            return
        data = s.get("data") or {}
        if data.get("token"):
            tok = base64.b64decode(data["token"]).decode()
            if self.api.auth.user_for(tok) is None:
                self.api.auth.add(tok, "system:serviceaccount:%s:%s" % (ns, sa_name), [
                    "system:serviceaccounts", "system:serviceaccounts:" + ns,
                    "system:authenticated"], sa=(ns, sa_name, sa["metadata"]["uid"]),
                    uid=sa["metadata"]["uid"])
            return
        tok = self.api.auth.service_account_token(ns, sa_name, sa["metadata"]["uid"])

        def fill(o):
            o.setdefault("data", {}).update({
                "token": base64.b64encode(tok.encode()).decode(),
                "ca.crt": base64.b64encode(self.cfg.ca_pem.encode()).decode(),
                "namespace": base64.b64encode(ns.encode()).decode()})
            o["metadata"].setdefault("annotations", {})[
                "kubernetes.io/service-account.uid"] = sa["metadata"]["uid"]
        self.api.mutate(self.ki(SECRET), ns, name, fill)


def objects_json(x):
    import json
    return json.dumps(x, sort_keys=True)


def _epoch(ts):
    if not ts:
        return time.time()
    import calendar
    try:
        return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return time.time()


def _job_pod(pod):
    refs = pod["metadata"].get("ownerReferences") or []
    return any(r.get("kind") == "Job" and r.get("controller") for r in refs) and \
        (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure")
