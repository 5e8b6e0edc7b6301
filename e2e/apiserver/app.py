"""Emulator wiring: flags, bootstrap objects, control actions, stats, start and clean stop."""

import argparse
import json
import os
import signal
import ssl
import sys
import tempfile
import threading
import time

import hooks
import objects
import tlsutil
from api import Api, Options
from auth import Auth
from faults import Faults
from kinds import Registry
from status import ApiError, bad_request, method_not_allowed
from store import Store, clone

K8S_VERSION = "1.30.0"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="e2e/apiserver/run",
                                description="Kubernetes API server emulator (tests, make demo)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    p.add_argument("--kubeconfig-out", required=True, help="write a kubeconfig here")
    p.add_argument("--service-host", action="append", default=[],
                   metavar="SVC.NS.svc=127.0.0.1:PORT",
                   help="map an in-cluster Service (admission webhooks) to a loopback address")
    p.add_argument("--pod-cidr", default="127.1.0.0/16")
    p.add_argument("--service-cidr", default="10.96.0.0/12")
    p.add_argument("--state-file", help="load state at start, save it on SIGTERM")
    p.add_argument("--token", help="the admin bearer token (default: random)")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--tls-ca", help="CA of --tls-cert for the kubeconfig (default: the cert)")
    p.add_argument("--ca-out", help="also write the CA certificate (PEM) here")
    p.add_argument("--kubeconfig-auth", choices=("token", "cert"), default="token",
                   help="credentials in the kubeconfig: the admin token or a client "
                   "certificate (CN=kubernetes-admin, O=system:masters)")
    p.add_argument("--client-ca", help="trust client certificates of this CA too")
    p.add_argument("--token-out", help="also write the admin token here")
    p.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds")
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="watch timeout when the client sends none (random in [T, 2T])")
    p.add_argument("--history", type=int, default=50000, help="watch events kept (then 410)")
    p.add_argument("--gone-mode", choices=("event", "http"), default="event",
                   help="410 for compacted watches: in-stream ERROR event or HTTP status")
    p.add_argument("--k8s-version", default=K8S_VERSION)
    p.add_argument("--crd-establish-delay", type=float, default=0.0)
    p.add_argument("--pod-start-delay", type=float, default=0.0,
                   help="seconds before a scheduled pod becomes Running")
    p.add_argument("--pod-termination-seconds", type=float, default=0.2,
                   help="the kubelet removes a gracefully deleted pod after min(grace, this)")
    p.add_argument("--job-pod-seconds", type=float, default=1.0,
                   help="pods of Jobs succeed after running this long")
    p.add_argument("--token-ttl", type=float, default=0.0,
                   help="override the lifetime of issued service-account tokens (seconds)")
    p.add_argument("--legacy-empty-namespace", action="store_true",
                   help="send controller-created pods to webhooks without metadata.namespace")
    p.add_argument("--access-log", help="append one JSON line per request here")
    p.add_argument("--seed", type=int, help="seed names and uids (deterministic runs)")
    p.add_argument("--node-name", default="emulator-node")
    a = p.parse_args(argv)
    a.service_hosts = {}
    for s in a.service_host:
        if "=" not in s or ":" not in s.split("=", 1)[1]:
            p.error("--service-host wants <svc>.<ns>.svc=HOST:PORT, got %r" % s)
        k, v = s.split("=", 1)
        host, port = v.rsplit(":", 1)
        a.service_hosts[k] = (host.strip("[]"), int(port))
    a.token_ttl_override = a.token_ttl
    return a


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        if cfg.seed is not None:
            objects.rng.seed(cfg.seed)
        self.store = Store(history_max=cfg.history)
        self.reg = Registry(cfg.k8s_version)
        self.auth = Auth(cfg.token or objects.random_token(40))
        self.api = Api(self.store, self.reg, self.auth, cfg)
        self.faults = Faults(cfg.seed)
        self.gone_mode = cfg.gone_mode
        self.sa_alive = hooks.sa_alive(self.api)
        self.stats_lock = threading.Lock()
        self.stats = {}
        self.log_file = open(cfg.access_log, "a") if cfg.access_log else None
        self.port = 0
        self.server = None
        self.controllers = None
        self.cert_seq = 0
        self.tmpdir = None

    # ---- bootstrap ----

    def bootstrap(self):
        ns_ki = self.reg.by_gr("", "namespaces")
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.store.get(ns_ki.gr, "", ns) is None:
                self.api.create(ns_ki, "", {"metadata": {"name": ns}}, hooks.CONTROLLER_USER,
                                Options())
            else:
                hooks.bootstrap_namespace(self.api, ns)
        node_ki = self.reg.by_gr("", "nodes")
        if self.store.get(node_ki.gr, "", self.cfg.node_name) is None:
            now = objects.now_rfc3339()
            self.api.create(node_ki, "", {"metadata": {"name": self.cfg.node_name, "labels": {
                "kubernetes.io/hostname": self.cfg.node_name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64"}}, "spec": {"podCIDR": self.cfg.pod_cidr},
                "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": self.cfg.node_name}],
                           "conditions": [{"type": "Ready", "status": "True",
                                           "reason": "KubeletReady", "lastHeartbeatTime": now,
                                           "lastTransitionTime": now,
                                           "message": "emulated kubelet is posting ready status"}],
                           "nodeInfo": {"kubeletVersion": "v" + self.cfg.k8s_version,
                                        "operatingSystem": "linux", "architecture": "amd64"}}},
                hooks.CONTROLLER_USER, Options())
        svc_ki = self.reg.by_gr("", "services")
        if self.store.get(svc_ki.gr, "default", "kubernetes") is None:
            self.api.create(svc_ki, "default", {"metadata": {"name": "kubernetes", "labels": {
                "component": "apiserver", "provider": "kubernetes"}}, "spec": {
                "clusterIP": str(self.api.svc_ips.net[1]),
                "ports": [{"name": "https", "port": 443, "targetPort": self.port}]}},
                hooks.CONTROLLER_USER, Options())
        ep_ki = self.reg.by_gr("", "endpoints")
        ep = {"metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
              "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                           "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}]}]}
        cur = self.store.get(ep_ki.gr, "default", "kubernetes")
        if cur is None:
            self.api.create(ep_ki, "default", ep, hooks.CONTROLLER_USER, Options())
        elif cur.get("subsets") != ep["subsets"]:
            self.api.mutate(ep_ki, "default", "kubernetes",
                            lambda o: o.__setitem__("subsets", ep["subsets"]))

    def load_state(self):
        f = self.cfg.state_file
        if not f or not os.path.exists(f):
            return
        with open(f) as fh:
            data = json.load(fh)
        self.store.load(data)
        for gr, o in self.store.all_items():
            if gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self.reg.set_crd(o)
            elif gr == ("", "pods") and (o.get("status") or {}).get("podIP"):
                self.api.pod_ips.used.add(o["status"]["podIP"])
            elif gr == ("", "services") and (o.get("spec") or {}).get("clusterIP") not in (
                    None, "", "None"):
                self.api.svc_ips.used.add(o["spec"]["clusterIP"])

    def save_state(self):
        f = self.cfg.state_file
        if not f:
            return
        tmp = f + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self.store.dump(), fh)
        os.replace(tmp, f)

    def wipe(self):
        self.store.wipe()
        with self.reg.lock:
            self.reg.custom.clear()
            self.reg.gen += 1
        self.api.pod_ips.used.clear()
        self.api.svc_ips.used.clear()
        self.auth.expire_all_but_admin()
        self.bootstrap()

    # ---- control endpoint ----

    def control(self, spec, conn):
        act = spec.get("action")
        if act in ("fail", "delay"):
            return self.faults.add(spec)
        if act == "clear":
            self.store.freeze_watches(0)
            return {"cleared": self.faults.clear()}
        if act == "drop-watches":
            mode = spec.get("mode", "eof")
            if mode not in ("eof", "reset"):
                raise bad_request("mode must be eof or reset")
            return {"dropped": self.store.drop_watches(mode)}
        if act == "freeze-watches":
            return {"frozen": self.store.freeze_watches(float(spec.get("seconds", 30)))}
        if act == "compact":
            return {"compactedAt": str(self.store.compact())}
        if act == "gone-mode":
            if spec.get("mode") not in ("event", "http"):
                raise bad_request("mode must be event or http")
            self.gone_mode = spec["mode"]
            return {"goneMode": self.gone_mode}
        if act == "restart":
            wipe = bool(spec.get("wipe", False))
            down = float(spec.get("downSeconds", 0))
            self.faults.down_until = time.monotonic() + down

            def go():
                time.sleep(0.1)
                if wipe:
                    self.wipe()
                self.store.drop_watches("reset")
                self.server.close_all()
            threading.Thread(target=go, daemon=True).start()
            return {"restarting": True, "wipe": wipe, "downSeconds": down}
        if act == "add-token":
            if not spec.get("token"):
                raise bad_request("token is required")
            self.auth.add(spec["token"], spec.get("user", "test-user"), spec.get("groups"),
                          ttl=spec.get("ttlSeconds"))
            return {"added": spec["token"]}
        if act == "remove-token":
            return {"removed": self.auth.remove(spec.get("token", ""))}
        if act == "expire-tokens":
            self.auth.expire_all_but_admin()
            return {"expired": True}
        if act == "legacy-empty-namespace":
            self.cfg.legacy_empty_namespace = bool(spec.get("enabled", True))
            return {"legacyEmptyNamespace": self.cfg.legacy_empty_namespace}
        if act == "issue-client-cert":
            with self.stats_lock:
                self.cert_seq += 1
                seq = self.cert_seq
            cert, key = tlsutil.issue_client_cert(self.tmpdir, spec.get("user", "test-user"),
                                                  spec.get("groups") or [], seq)
            return {"certificate": cert, "key": key}
        if act == "bulk-create":
            return self.bulk_create(spec)
        if act == "service-host":
            host, port = spec["address"].rsplit(":", 1)
            self.cfg.service_hosts[spec["service"]] = (host, int(port))
            return {"serviceHosts": {k: "%s:%d" % v for k, v in self.cfg.service_hosts.items()}}
        raise bad_request("unknown action %r" % act)

    def bulk_create(self, spec):
        """Create `count` copies of `object` named <namePrefix><i> without HTTP round trips
        (same validation, defaulting and admission as a POST): big lists for client tests."""
        av = spec.get("object", {}).get("apiVersion", "v1")
        ki = self.reg.by_kind(av, spec.get("object", {}).get("kind", ""))
        if ki is None:
            raise bad_request("bulk-create: unknown apiVersion/kind")
        count = int(spec.get("count", 1))
        if not 0 < count <= 100000:
            raise bad_request("bulk-create: count must be 1..100000")
        ns = spec.get("namespace", "default") if ki.namespaced else ""
        prefix = spec.get("namePrefix", "obj-")
        start = int(spec.get("start", 0))
        first = last = None
        for i in range(start, start + count):
            body = clone(spec["object"])
            body.setdefault("metadata", {})["name"] = "%s%d" % (prefix, i)
            _, o = self.api.create(ki, ns, body, hooks.CONTROLLER_USER, Options())
            first = first or o["metadata"]["resourceVersion"]
            last = o["metadata"]["resourceVersion"]
        return {"created": count, "firstResourceVersion": first, "lastResourceVersion": last}

    # ---- stats / access log ----

    def record(self, method, path, q, verb, code, user, secs):
        key = "%s %s" % (verb, _resource_of(path))
        with self.stats_lock:
            s = self.stats.setdefault(key, {"count": 0, "codes": {}})
            s["count"] += 1
            s["codes"][str(code)] = s["codes"].get(str(code), 0) + 1
            if self.log_file:
                self.log_file.write(json.dumps({
                    "ts": round(time.time(), 3), "method": method, "path": path, "query": q,
                    "verb": verb, "code": code, "user": (user or {}).get("username"),
                    "ms": round(secs * 1000, 1)}) + "\n")
                self.log_file.flush()

    def stats_doc(self):
        with self.stats_lock:
            st = json.loads(json.dumps(self.stats))
        with self.store.lock:
            return {"requests": st, "resourceVersion": str(self.store.rv),
                    "compactedAt": str(self.store.compacted), "watches": len(self.store.watchers),
                    "connections": len(self.server.conns) if self.server else 0}

    def reset_stats(self):
        with self.stats_lock:
            self.stats = {}

    def version_info(self):
        major, minor, _ = (self.cfg.k8s_version.split(".") + ["0", "0"])[:3]
        return {"major": major, "minor": minor, "gitVersion": "v" + self.cfg.k8s_version,
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2024-04-17T00:00:00Z",
                "goVersion": "go1.22.2", "compiler": "gc", "platform": "linux/amd64",
                "emulator": "mizzen"}

    # ---- scale subresource ----

    def scale(self, h, ki, ns, r, m, body, opts):
        from patches import json_patch, merge_patch, PatchError
        api = self.api

        def as_scale(o):
            sel = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {
                "name": o["metadata"]["name"], "namespace": o["metadata"].get("namespace"),
                "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
                "creationTimestamp": o["metadata"]["creationTimestamp"]},
                "spec": {"replicas": (o.get("spec") or {}).get("replicas", 0)},
                "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                           "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}
        cur = api.get(ki, ns, r.name)
        if m == "GET":
            return h._send(200, as_scale(cur))
        if m == "PUT":
            new = h._json(body)
        elif m == "PATCH":
            ct = (h.headers.get("Content-Type") or "").split(";")[0]
            try:
                p = json.loads(body or b"null")
                new = json_patch(as_scale(cur), p) if ct == "application/json-patch+json" \
                    else merge_patch(as_scale(cur), p)
            except (ValueError, PatchError) as e:
                raise ApiError(422, "Invalid", str(e))
        else:
            raise method_not_allowed()
        if not isinstance(new, dict):
            raise bad_request("invalid Scale object")
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", 'Scale.autoscaling "%s" is invalid: spec.replicas: '
                           "Invalid value: %s: must be greater than or equal to 0"
                           % (r.name, json.dumps(replicas)))
        rv = (new.get("metadata") or {}).get("resourceVersion")
        with self.store.lock:
            old = api.get(ki, ns, r.name)
            upd = clone(old)
            upd["spec"]["replicas"] = replicas
            upd["metadata"]["resourceVersion"] = rv or old["metadata"]["resourceVersion"]
            stored = api._update_locked(ki, old, upd, None, opts)
        return h._send(200, as_scale(stored))

    # ---- run ----

    def run(self):
        cfg = self.cfg
        tmpdir = self.tmpdir = tempfile.mkdtemp(prefix="mizzen-apiserver-")
        if cfg.tls_cert and cfg.tls_key:
            cert, key = cfg.tls_cert, cfg.tls_key
            ca = cfg.tls_ca or cert
        else:
            cert, key, ca = tlsutil.make_serving_cert(tmpdir)
        with open(ca) as f:
            cfg.ca_pem = f.read()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cafile=ca)
        if cfg.client_ca:
            ctx.load_verify_locations(cafile=cfg.client_ca)
        import server as srv
        self.server = srv.Server(("127.0.0.1", cfg.port), self, ctx)
        self.port = self.server.server_address[1]
        self.load_state()
        self.bootstrap()
        import admission
        import controllers
        self.api.admission = admission.Admission(self.api, cfg)
        self.controllers = controllers.Controllers(self.api, cfg)
        self.controllers.start()
        if cfg.ca_out:
            with open(cfg.ca_out, "w") as f:
                f.write(cfg.ca_pem)
        if cfg.token_out:
            with open(cfg.token_out, "w") as f:
                f.write(self.auth.admin_token)
        client = None
        if cfg.kubeconfig_auth == "cert":
            client = tlsutil.issue_client_cert(tmpdir, "kubernetes-admin", ["system:masters"], 0)
        tlsutil.write_kubeconfig(cfg.kubeconfig_out, self.port, cfg.ca_pem, self.auth.admin_token,
                                 client=client)

        def on_signal(signum, frame):
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print("listening on 127.0.0.1:%d" % self.port, flush=True)
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.controllers.stop()
            self.store.drop_watches("eof")
            time.sleep(0.1)
            self.server.close_all()
            self.server.server_close()
            self.save_state()
            import shutil
            shutil.rmtree(tmpdir, ignore_errors=True)
        return 0


def _resource_of(path):
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        rest = parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        rest = parts[3:]
    else:
        return path
    if rest and rest[0] == "watch":
        rest = rest[1:]
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        rest = rest[2:]
    return "/".join([rest[0]] + ([rest[2]] if len(rest) > 2 else []))


def main(argv):
    cfg = parse_args(argv)
    try:
        return App(cfg).run()
    except (RuntimeError, OSError) as e:
        print("apiserver emulator: %s" % e, file=sys.stderr)
        return 1
