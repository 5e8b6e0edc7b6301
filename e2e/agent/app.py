#!/usr/bin/python3
"""app.py: a small app for the agent's probe and metrics tests.

  app.py PORT STATE_DIR

GET /ready    the status code in STATE_DIR/ready (default 200); the
              client address of the last call goes to STATE_DIR/ready_peer
GET /live     200
GET /slow     sleeps 3 s, then 200
GET /hdr      200 when the request has "X-Probe: yes", else 418
GET /big      2 MB of Prometheus text (for the scrape size cap)
GET /metrics  Prometheus text: app_requests_total, plus a family the
              stand-in Envoy also exports (envoy_fake_stand_in), which the
              agent's merge must drop
"""
import http.server
import os
import socketserver
import sys
import threading
import time

PORT = int(sys.argv[1])
STATE = sys.argv[2]
COUNT = {"n": 0}
LOCK = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            COUNT["n"] += 1
        if self.path == "/ready":
            with open(os.path.join(STATE, "ready_peer"), "w") as f:
                f.write(self.client_address[0])
            try:
                code = int(open(os.path.join(STATE, "ready")).read().strip())
            except (OSError, ValueError):
                code = 200
            return self.reply(code, "ready=%d\n" % code)
        if self.path == "/live":
            return self.reply(200, "alive\n")
        if self.path == "/slow":
            time.sleep(3)
            return self.reply(200, "slow\n")
        if self.path == "/hdr":
            return self.reply(200 if self.headers.get("X-Probe") == "yes" else 418, "hdr\n")
        if self.path == "/big":
            return self.reply(200, "".join("big_metric{i=\"%d\"} 1\n" % i for i in range(80000)))
        if self.path == "/metrics":
            return self.reply(200, "# HELP app_requests_total Requests seen by the app.\n"
                                   "# TYPE app_requests_total counter\n"
                                   "app_requests_total %d\n"
                                   "# TYPE envoy_fake_stand_in gauge\n"
                                   'envoy_fake_stand_in{pid="app"} 7\n' % COUNT["n"])
        self.reply(404, "not found\n")


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early (a capped scrape) is expected


S(("127.0.0.1", PORT), H).serve_forever(poll_interval=0.1)
