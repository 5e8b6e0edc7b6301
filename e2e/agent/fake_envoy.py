#!/usr/bin/python3
"""fake_envoy.py: a stand-in Envoy for mizzen-agent's end-to-end tests.

It honours the part of Envoy that the agent relies on:

* the command line the agent writes (-c, --restart-epoch, --drain-time-s,
  --parent-shutdown-time-s, --local-address-ip-version, -l,
  --component-log-level, --concurrency, --config-yaml, ...); an unknown flag
  or a bad value is a PARSE ERROR and exit 1, as Envoy;
* the bootstrap: JSON, must not carry "@type", needs admin.address; the
  admin API is served on that address, every static listener with an HTTP
  connection manager is served too (prefix routes to STATIC clusters are
  proxied to the cluster's endpoint, e.g. 15021 /healthz/ready -> agent);
* admin endpoints /ready, /stats (usedonly, filter=<regex>),
  /stats/prometheus, /server_info, POST /drain_listeners, POST
  /quitquitquit;
* hot restart: each process listens on <config dir>/fake-envoy-hr-<epoch>
  (a Unix socket; real Envoy uses abstract sockets named by --base-id).
  Epoch N > 0 connects to epoch N-1, asks it to close its listeners
  ("drain"), binds them itself, and after --parent-shutdown-time-s tells
  the parent to exit ("terminate"). No parent: exit 1, as Envoy.
* SIGTERM/SIGINT: exit with $FAKE_ENVOY_TERM_EXIT (default 0).

Everything it does is appended as JSON lines to $FAKE_ENVOY_LOG (default
<config dir>/fake-envoy.log) so tests can assert on it.

Test knobs (environment): FAKE_ENVOY_READY_DELAY (seconds until LIVE,
default 0.2), FAKE_ENVOY_IGNORE_TERMINATE=1 or a file
<config dir>/fake-envoy-ignore-terminate (a parent that does not exit when
told: the agent must stop it), FAKE_ENVOY_TERM_EXIT.

Binds loopback only: 0.0.0.0 listeners are served on 127.0.0.1 (:: on ::1).
"""
import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

LEVELS = {"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}
VALUED = {
    "-c": "config", "--config-path": "config", "--config-yaml": "config_yaml",
    "--restart-epoch": "epoch", "--drain-time-s": "drain_time",
    "--parent-shutdown-time-s": "parent_shutdown", "--local-address-ip-version": "ipver",
    "-l": "level", "--log-level": "level", "--component-log-level": "component",
    "--concurrency": "concurrency", "--base-id": "base_id",
    "--service-cluster": "service_cluster", "--service-node": "service_node",
    "--drain-strategy": "drain_strategy", "--file-flush-interval-msec": "flush",
}
SWITCHES = {"--disable-hot-restart", "--allow-unknown-static-fields"}

START = time.time()
STATE = {"live": False, "draining": False, "drain_queries": [], "requests": 0}
LOCK = threading.Lock()
SERVERS = []
ARGS = {}


def die(msg):
    sys.stderr.write("PARSE ERROR: %s\n" % msg)
    sys.stderr.flush()
    os._exit(1)


def parse_args(argv):
    a = {"epoch": "0", "drain_time": "600", "parent_shutdown": "900",
         "ipver": "v4", "level": "info", "component": ""}
    i = 0
    while i < len(argv):
        arg = argv[i]
        key, val = arg, None
        if arg.startswith("--") and "=" in arg:
            key, val = arg.split("=", 1)
        if key in SWITCHES:
            a[key] = True
        elif key in VALUED:
            if val is None:
                i += 1
                if i >= len(argv):
                    die("missing value for %s" % key)
                val = argv[i]
            a[VALUED[key]] = val
        else:
            die("unknown argument %s" % arg)
        i += 1
    for k in ("epoch", "drain_time", "parent_shutdown"):
        if not re.fullmatch(r"[0-9]+", a[k]):
            die("%s must be a non-negative integer, got %r" % (k, a[k]))
        a[k] = int(a[k])
    if a["ipver"] not in ("v4", "v6"):
        die("--local-address-ip-version must be v4 or v6")
    if a["level"] not in LEVELS:
        die("bad log level %r" % a["level"])
    if "concurrency" in a and not re.fullmatch(r"[0-9]+", a["concurrency"]):
        die("bad --concurrency")
    if "config" not in a:
        die("-c is required")
    return a


def log_event(event, **kw):
    rec = {"t": time.time(), "pid": os.getpid(), "epoch": ARGS.get("epoch"), "event": event}
    rec.update(kw)
    line = (json.dumps(rec, sort_keys=True) + "\n").encode()
    fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def is_live():
    with LOCK:
        if STATE["live"]:
            return True
        if time.time() - START >= float(os.environ.get("FAKE_ENVOY_READY_DELAY", "0.2")):
            STATE["live"] = True
            log_event("live")
            return True
    return False


def stats():
    live = is_live()
    with LOCK:
        return {
            "server.state": 0 if live else 3,
            "server.hot_restart_epoch": ARGS["epoch"],
            "server.concurrency": int(ARGS.get("concurrency", "2")),
            "listener_manager.workers_started": 1 if live else 0,
            "cluster_manager.cds.update_success": 1 if live else 0,
            "listener_manager.lds.update_success": 1 if live else 0,
            "listener_manager.total_listeners_draining": 2 if STATE["draining"] else 0,
            "http.admin.downstream_rq_total": STATE["requests"],
        }


def prometheus():
    lines = []
    for name, val in sorted(stats().items()):
        pname = "envoy_" + name.replace(".", "_")
        kind = "counter" if name.endswith("_total") or "update_success" in name else "gauge"
        lines.append("# TYPE %s %s" % (pname, kind))
        lines.append("%s{} %d" % (pname, val))
    lines.append("# TYPE envoy_fake_stand_in gauge")
    lines.append('envoy_fake_stand_in{pid="%d"} 1' % os.getpid())
    return "\n".join(lines) + "\n"


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Admin(Quiet):
    def do_GET(self):
        with LOCK:
            STATE["requests"] += 1
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if u.path == "/ready":
            live = is_live()
            return self.reply(200 if live else 503, "LIVE\n" if live else "PRE_INITIALIZING\n")
        if u.path == "/stats":
            pat = q.get("filter", [""])[0]
            rx = re.compile(pat) if pat else None
            out = "".join("%s: %d\n" % (k, v) for k, v in sorted(stats().items())
                          if rx is None or rx.search(k))
            return self.reply(200, out)
        if u.path == "/stats/prometheus":
            return self.reply(200, prometheus(), "text/plain; version=0.0.4")
        if u.path == "/server_info":
            return self.reply(200, json.dumps({
                "state": "LIVE" if is_live() else "PRE_INITIALIZING",
                "command_line_options": {"restart_epoch": ARGS["epoch"]},
                "pid": os.getpid()}), "application/json")
        self.reply(404, "invalid path\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/drain_listeners":
            with LOCK:
                STATE["draining"] = True
                STATE["drain_queries"].append(u.query)
            log_event("drain_listeners", query=u.query)
            return self.reply(200, "OK\n")
        if u.path == "/quitquitquit":
            log_event("quitquitquit")
            self.reply(200, "OK\n")
            threading.Timer(0.05, lambda: os._exit(0)).start()
            return
        self.reply(404, "invalid path\n")


def make_route_handler(routes, clusters):
    class Route(Quiet):
        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            for prefix, cluster in routes:
                if path.startswith(prefix):
                    ep = clusters.get(cluster)
                    if ep is None:
                        return self.reply(503, "no healthy upstream\n")
                    try:
                        conn = http.client.HTTPConnection(ep[0], ep[1], timeout=5)
                        conn.request("GET", self.path)
                        r = conn.getresponse()
                        body = r.read()
                        conn.close()
                    except OSError:
                        return self.reply(503, "upstream connect error\n")
                    return self.reply(r.status, body, r.getheader("Content-Type", "text/plain"))
            self.reply(404, "")
    return Route


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def loopback(addr):
    if addr in ("0.0.0.0", ""):
        return "127.0.0.1"
    if addr == "::":
        return "::1"
    return addr


def serve(host, port, handler, name):
    cls = Server
    if ":" in host:
        class V6(Server):
            address_family = socket.AF_INET6
        cls = V6
    deadline = time.time() + 5
    while True:
        try:
            srv = cls((host, port), handler)
            break
        except OSError as e:
            if time.time() > deadline:
                log_event("bind_failed", listener=name, port=port, error=str(e))
                os._exit(1)
            time.sleep(0.05)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    SERVERS.append(srv)


def start_listeners(cfg):
    admin = cfg["admin"]["address"]["socket_address"]
    serve(admin.get("address", "127.0.0.1"), int(admin["port_value"]), Admin, "admin")
    clusters = {}
    for c in cfg.get("static_resources", {}).get("clusters", []):
        try:
            ep = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
            clusters[c["name"]] = (ep["address"], int(ep["port_value"]))
        except (KeyError, IndexError):
            pass
    for lis in cfg.get("static_resources", {}).get("listeners", []):
        sa = lis["address"]["socket_address"]
        routes = []
        for fc in lis.get("filter_chains", []):
            for f in fc.get("filters", []):
                rc = f.get("typed_config", {}).get("route_config", {})
                for vh in rc.get("virtual_hosts", []):
                    for r in vh.get("routes", []):
                        routes.append((r["match"].get("prefix", "/"), r["route"]["cluster"]))
        serve(loopback(sa.get("address", "")), int(sa["port_value"]),
              make_route_handler(routes, clusters), lis.get("name", "?"))


def close_listeners():
    def stop(srv):
        srv.shutdown()
        srv.server_close()
    ts = [threading.Thread(target=stop, args=(srv,)) for srv in SERVERS]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    SERVERS.clear()


def hr_path(epoch):
    return os.path.join(CFG_DIR, "fake-envoy-hr-%d" % epoch)


def hot_restart_server():
    path = hr_path(ARGS["epoch"])
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)

    def loop():
        while True:
            c, _ = s.accept()
            msg = c.makefile().readline().strip()
            if msg == "drain":
                close_listeners()
                with LOCK:
                    STATE["draining"] = True
                log_event("parent_drain")
                c.sendall(b"ok\n")
            elif msg == "terminate":
                if (os.environ.get("FAKE_ENVOY_IGNORE_TERMINATE") == "1" or
                        os.path.exists(os.path.join(CFG_DIR, "fake-envoy-ignore-terminate"))):
                    log_event("terminate_ignored")
                    c.sendall(b"ignored\n")
                else:
                    log_event("parent_terminated")
                    c.sendall(b"ok\n")
                    c.close()
                    os._exit(0)
            c.close()
    threading.Thread(target=loop, daemon=True).start()


def ask_parent(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(hr_path(ARGS["epoch"] - 1))
    s.sendall(msg.encode() + b"\n")
    reply = s.makefile().readline().strip()
    s.close()
    return reply


def main():
    global ARGS, LOG_PATH, CFG_DIR
    ARGS = parse_args(sys.argv[1:])
    CFG_DIR = os.path.dirname(os.path.abspath(ARGS["config"]))
    LOG_PATH = os.environ.get("FAKE_ENVOY_LOG") or os.path.join(CFG_DIR, "fake-envoy.log")
    try:
        with open(ARGS["config"]) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("error initializing configuration '%s': %s\n" % (ARGS["config"], e))
        os._exit(1)
    if "@type" in cfg:
        sys.stderr.write("error initializing configuration: unknown field \"@type\"\n")
        os._exit(1)
    log_event("start", argv=sys.argv[1:], node=cfg.get("node", {}).get("id"),
              admin_port=cfg["admin"]["address"]["socket_address"]["port_value"])

    stop = {"sig": None}

    def on_term(signum, frame):
        stop["sig"] = signum
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    if ARGS["epoch"] > 0:
        try:
            reply = ask_parent("drain")
        except OSError as e:
            log_event("hot_restart_failed", error=str(e))
            sys.stderr.write("unable to connect to parent epoch %d: %s\n" % (ARGS["epoch"] - 1, e))
            os._exit(1)
        log_event("took_over", parent_reply=reply)

        def terminate_parent():
            try:
                reply = ask_parent("terminate")
                log_event("parent_shutdown_sent", reply=reply)
            except OSError as e:
                log_event("parent_shutdown_failed", error=str(e))
        threading.Timer(ARGS["parent_shutdown"], terminate_parent).start()
    hot_restart_server()
    start_listeners(cfg)
    while stop["sig"] is None:
        time.sleep(0.05)
    code = int(os.environ.get("FAKE_ENVOY_TERM_EXIT", "0"))
    log_event("sigterm", signal=stop["sig"], exit=code)
    os._exit(code)


if __name__ == "__main__":
    main()
