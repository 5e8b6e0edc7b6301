"""HTTPS front end: TLS, bearer auth, routing, JSON responses, chunked watch streams and the
/emulator/ control endpoint."""

import json
import queue
import random
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from api import Options, qbool
from status import ApiError, bad_request, method_not_allowed, no_route, not_acceptable, unauthorized

PUBLIC = ("/healthz", "/livez", "/readyz", "/version")


class Route:
    def __init__(self, group, version, ns, resource, name, sub, watch_prefix):
        self.group, self.version, self.ns = group, version, ns
        self.resource, self.name, self.sub, self.watch_prefix = resource, name, sub, watch_prefix


def parse_resource_path(parts):
    """parts: path segments. Returns Route, ('gv', g, v), ('group', g) or None."""
    if parts[0] == "api":
        if len(parts) < 2:
            return None
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 2:
            return None
        if len(parts) == 2:
            return ("group", parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    if not rest:
        return None if watch else ("gv", group, version)
    ns = None
    if rest[0] == "namespaces" and group == "" and len(rest) >= 3 and not (
            len(rest) == 3 and rest[2] in ("status", "finalize")):
        ns, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and group != "" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    return Route(group, version, ns, rest[0], rest[1] if len(rest) > 1 else None,
                 rest[2] if len(rest) > 2 else None, watch)


def _accepts_json(accept):
    if not accept:
        return True
    for part in accept.split(","):
        mt = part.split(";")[0].strip().lower()
        if mt in ("application/json", "*/*", "application/*", "application/json-seq"):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mizzen-apiserver-emulator"
    sys_version = ""

    def setup(self):
        self.request.settimeout(10)
        self.request.do_handshake()
        self.request.settimeout(None)
        super().setup()
        self.server.track(self.request, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ----

    def _body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
                if len(data) > 64 << 20:
                    raise ApiError(413, "RequestEntityTooLarge", "request entity too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 << 20:
            raise ApiError(413, "RequestEntityTooLarge", "request entity too large")
        return self.rfile.read(n) if n else b""

    def _send(self, code, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        # headers and body in one send (no Nagle/delayed-ACK stall between them)
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.flush_headers()
        self.code = code

    def _error(self, e):
        self._send(e.code, e.status(), headers=e.headers)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _dispatch(self):
        app = self.server.app
        t0 = time.monotonic()
        self.code = 0
        self.user = None
        u = urllib.parse.urlsplit(self.path)
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True)
                  .items()}
        path = u.path.rstrip("/") or "/"
        verb = "-"
        try:
            try:
                body = self._body()
            except (ValueError, OSError):
                raise bad_request("malformed request body")
            if path not in PUBLIC and not path.startswith(("/healthz", "/livez", "/readyz")):
                auth = self.headers.get("Authorization", "")
                tok = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
                self.user = app.auth.user_for(tok, app.sa_alive)
                if self.user is None and not tok:
                    import tlsutil
                    self.user = tlsutil.user_from_peer_cert(self.request.getpeercert())
                if self.user is None:
                    raise unauthorized()
            if path.startswith("/emulator/"):
                verb = "control"
                return self._control(path, body)
            verb = self._verb(path)
            if verb not in ("discovery", "health"):
                delay, err = app.faults.check(self.command, path, verb)
                if delay:
                    time.sleep(delay)
                if err is not None:
                    raise err
            self._route(path, body)
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception as e:  # an emulator bug: answer 500 and say so
            import traceback
            traceback.print_exc()
            try:
                self._error(ApiError(500, "InternalError", "Internal error occurred: emulator: %r"
                                     % e))
            except OSError:
                self.close_connection = True
        finally:
            app.record(self.command, path, self.q, verb, self.code, self.user,
                       time.monotonic() - t0)

    def _verb(self, path):
        if path.startswith(("/healthz", "/livez", "/readyz")):
            return "health"
        m = self.command
        parts = path.strip("/").split("/")
        r = parse_resource_path(parts) if parts[0] in ("api", "apis") else None
        if not isinstance(r, Route):
            return "discovery"
        if m == "GET":
            if r.watch_prefix or qbool(self.q.get("watch", "")):
                return "watch"
            return "get" if r.name else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if r.name else "deletecollection"}.get(m, m.lower())

    # ---- routing ----

    def _route(self, path, body):
        app = self.server.app
        if path.startswith(("/healthz", "/livez", "/readyz")):
            return self._send(200, b"ok", "text/plain; charset=utf-8")
        if path.startswith(("/openapi/v2", "/swagger")):
            raise no_route()
        if not _accepts_json(self.headers.get("Accept")):
            raise not_acceptable()
        if path == "/version":
            return self._send(200, app.version_info())
        if path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [
                                        {"clientCIDR": "0.0.0.0/0",
                                         "serverAddress": "127.0.0.1:%d" % app.port}]})
        if path == "/apis":
            return self._send(200, app.reg.api_group_list())
        if path == "/openapi/v3":
            return self._send(200, app.reg.openapi_index())
        if path.startswith("/openapi/v3/"):
            p = path[len("/openapi/v3/"):].split("/")
            doc = None
            if p[:2] == ["api", "v1"] and len(p) == 2:
                doc = app.reg.openapi_gv_doc("", "v1")
            elif p[0] == "apis" and len(p) == 3:
                doc = app.reg.openapi_gv_doc(p[1], p[2])
            if doc is None:
                raise no_route()
            return self._send(200, doc, headers={"Cache-Control": "public, immutable"}
                              if self.q.get("hash") else None)
        parts = path.strip("/").split("/")
        if parts[0] not in ("api", "apis"):
            raise no_route()
        r = parse_resource_path(parts)
        if r is None:
            raise no_route()
        if isinstance(r, tuple):
            doc = app.reg.api_group(r[1]) if r[0] == "group" else app.reg.resource_list(r[1], r[2])
            if doc is None:
                raise no_route()
            if self.command != "GET":
                raise method_not_allowed()
            return self._send(200, doc)
        return self._resource(r, body)

    def _resource(self, r, body):
        app = self.server.app
        api = app.api
        ki = app.reg.lookup(r.group, r.version, r.resource)
        if ki is None:
            raise no_route()
        if (r.ns is not None and not ki.namespaced) or (r.ns is None and ki.namespaced and
                                                         r.name is not None):
            raise no_route()
        ns = r.ns or ""
        m = self.command
        opts = Options(self.q)
        if r.sub:
            return self._subresource(ki, ns, r, m, body, opts)
        if r.name is None:
            if m == "GET":
                if r.watch_prefix or qbool(self.q.get("watch", "")):
                    return self._watch(ki, ns, r.version)
                return self._send(200, api.list(ki, ns, self.q, r.version))
            if m == "POST":
                if r.ns is None and ki.namespaced:
                    raise method_not_allowed()
                if "create" not in ki.verbs:
                    raise method_not_allowed()
                code, obj = api.create(ki, ns, self._json(body), self.user, opts, r.version)
                return self._send(code, api.out(ki, obj, r.version), headers=self._warn(opts))
            if m == "DELETE" and "deletecollection" in ki.verbs:
                code, obj = api.delete_collection(ki, ns, self.q, self._delopts(body), self.user,
                                                  opts)
                return self._send(code, obj)
            raise method_not_allowed()
        if "get" not in ki.verbs:
            raise method_not_allowed()
        if m == "GET":
            if r.watch_prefix:
                q = dict(self.q)
                q["fieldSelector"] = "metadata.name=%s" % r.name
                self.q = q
                return self._watch(ki, ns, r.version)
            return self._send(200, api.out(ki, api.get(ki, ns, r.name), r.version))
        if m == "PUT":
            code, obj = api.update(ki, ns, r.name, self._json(body), self.user, opts,
                                   version=r.version)
            return self._send(code, api.out(ki, obj, r.version), headers=self._warn(opts))
        if m == "PATCH":
            code, obj = api.patch(ki, ns, r.name, self.headers.get("Content-Type"), body,
                                  self.user, opts, version=r.version)
            return self._send(code, api.out(ki, obj, r.version), headers=self._warn(opts))
        if m == "DELETE":
            code, obj = api.delete(ki, ns, r.name, self._delopts(body), self.user, opts)
            return self._send(code, api.out(ki, obj, r.version) if obj.get("kind") != "Status"
                              else obj)
        raise method_not_allowed()

    def _subresource(self, ki, ns, r, m, body, opts):
        app = self.server.app
        api = app.api
        if r.sub == "status" and ki.status:
            if m == "GET":
                return self._send(200, api.out(ki, api.get(ki, ns, r.name), r.version))
            if m == "PUT":
                code, obj = api.update(ki, ns, r.name, self._json(body), self.user, opts, "status",
                                       r.version)
                return self._send(code, api.out(ki, obj, r.version))
            if m == "PATCH":
                code, obj = api.patch(ki, ns, r.name, self.headers.get("Content-Type"), body,
                                      self.user, opts, "status", r.version)
                return self._send(code, api.out(ki, obj, r.version))
            raise method_not_allowed()
        if r.sub == "finalize" and ki.resource == "namespaces" and ki.builtin and m == "PUT":
            code, obj = api.update(ki, ns, r.name, self._json(body), self.user, opts, "finalize")
            return self._send(code, obj)
        if r.sub == "scale" and ki.scale:
            return app.scale(self, ki, ns, r, m, body, opts)
        if r.sub == "token" and ki.builtin and ki.resource == "serviceaccounts" and m == "POST":
            import hooks
            return self._send(201, hooks.token_request(api, ns, r.name, self._json(body)))
        raise no_route()

    def _json(self, body):
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("the body of the request was in an unknown format: %s" % e)

    def _delopts(self, body):
        d = self._json(body) if body else {}
        if not isinstance(d, dict):
            raise bad_request("DeleteOptions must be an object")
        for k in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if k in self.q and k not in d:
                v = self.q[k]
                d[k] = int(v) if k == "gracePeriodSeconds" else (qbool(v) if k ==
                                                                 "orphanDependents" else v)
        return d

    def _warn(self, opts):
        if not opts.warnings:
            return None
        return {"Warning": ['299 - "%s"' % w.replace('"', "'") for w in opts.warnings]}

    # ---- watch ----

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, ki, ns, version):
        app = self.server.app
        w, gone = app.api.watch(ki, ns, self.q)
        if gone is not None and app.gone_mode == "http":
            raise gone
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.code = 200
        if gone is not None:
            self._chunk(json.dumps({"type": "ERROR", "object": gone.status()}).encode() + b"\n")
            self._chunk(b"")
            return
        try:
            to = self.q.get("timeoutSeconds")
            timeout = float(to) if to else random.uniform(app.cfg.watch_timeout,
                                                          2 * app.cfg.watch_timeout)
        except ValueError:
            timeout = app.cfg.watch_timeout
        bookmarks = qbool(self.q.get("allowWatchBookmarks", ""))
        now = time.monotonic()
        end = now + timeout
        next_bm = now + app.cfg.bookmark_interval
        store = app.store
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if w.frozen_until > now:
                    time.sleep(min(0.05, w.frozen_until - now))
                    continue
                wait = min(end, next_bm) - now if bookmarks else end - now
                try:
                    item = w.q.get(timeout=max(0.005, min(wait, 0.5)))
                except queue.Empty:
                    item = None
                if item is None:
                    if bookmarks and time.monotonic() >= next_bm:
                        with store.lock:
                            rv = store.rv if w.q.empty() else None
                        if rv is not None:
                            bm = {"type": "BOOKMARK", "object": {
                                "kind": ki.kind, "apiVersion": ki.api_version(version),
                                "metadata": {"resourceVersion": str(rv)}}}
                            self._chunk(json.dumps(bm).encode() + b"\n")
                        next_bm = time.monotonic() + app.cfg.bookmark_interval
                    continue
                while w.frozen_until > time.monotonic() and time.monotonic() < end:
                    time.sleep(0.05)  # frozen: hold what arrived, send nothing
                if item == "eof":
                    break
                if item == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                lines = [self._event_line(ki, item, version)]
                while len(lines) < 256:
                    try:
                        item = w.q.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, str):
                        w.q.put(item)
                        break
                    lines.append(self._event_line(ki, item, version))
                self._chunk(b"".join(lines))
            self._chunk(b"")
        finally:
            store.unwatch(w)

    def _event_line(self, ki, item, version):
        typ, obj = item
        return json.dumps({"type": typ, "object": self.server.app.api.out(ki, obj, version)}) \
            .encode() + b"\n"

    # ---- control endpoint ----

    def _control(self, path, body):
        app = self.server.app
        if path == "/emulator/faults":
            if self.command == "GET":
                return self._send(200, {"faults": app.faults.list(), "goneMode": app.gone_mode})
            if self.command == "DELETE":
                return self._send(200, {"cleared": app.faults.clear()})
            if self.command != "POST":
                raise method_not_allowed()
            spec = self._json(body)
            specs = spec if isinstance(spec, list) else [spec]
            results = []
            for s in specs:
                if not isinstance(s, dict):
                    raise bad_request("a fault is a JSON object with an \"action\"")
                results.append(app.control(s, self.connection))
            return self._send(200, {"results": results})
        if path == "/emulator/stats" and self.command == "GET":
            return self._send(200, app.stats_doc())
        if path == "/emulator/stats" and self.command == "DELETE":
            app.reset_stats()
            return self._send(200, {})
        if path == "/emulator/state" and self.command == "GET":
            return self._send(200, app.store.dump())
        raise no_route()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, app, ctx):
        self.app = app
        self.ctx = ctx
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if time.monotonic() < self.app.faults.down_until:
            sock.close()
            raise OSError("emulator restarting")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass

    def track(self, sock, add):
        with self.conns_lock:
            (self.conns.add if add else self.conns.discard)(sock)

    def close_all(self, except_sock=None):
        with self.conns_lock:
            conns = [c for c in self.conns if c is not except_sock]
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(conns)
