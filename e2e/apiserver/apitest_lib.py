"""Helpers of the emulator API tests (apitest.py): checks, an HTTPS client with watch
support, test certificates and the control endpoint."""

import http.client
import json
import os
import socket
import ssl
import subprocess
import time

WORK = ROOT = None
FAILS = []


def setup(work, root):
    global WORK, ROOT
    WORK, ROOT = work, root


def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else "  [%s]" % (detail,)), flush=True)
    if not cond:
        FAILS.append(what)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), cwd=WORK, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=" + name,
            "-addext", "basicConstraints=critical,CA:TRUE")


def make_leaf(ca, name, san):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
    with open(os.path.join(WORK, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")


# ---------------- the test webhook ----------------

class Client:
    def __init__(self, port, token):
        self.port, self.token = port, token
        self.ctx = ssl.create_default_context(cafile=os.path.join(WORK, "ca.crt"))

    def conn(self, timeout=15):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                           timeout=timeout)

    def req(self, method, path, body=None, ctype="application/json", token=True, headers=None):
        c = self.conn()
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + (self.token if token is True else token)
        if body is not None:
            h["Content-Type"] = ctype
            body = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h.update(headers or {})
        try:
            c.request(method, path, body, h)
            r = c.getresponse()
            data = r.read()
            try:
                doc = json.loads(data)
            except ValueError:
                doc = data.decode(errors="replace")
            return r.status, r, doc
        finally:
            c.close()

    def watch(self, path, until=None, secs=5.0):
        """Collect watch events (dicts) until until(events) is true, EOF or secs pass.
        Returns (http status, events, ended_by_eof)."""
        c = self.conn(timeout=secs)
        c.request("GET", path, headers={"Authorization": "Bearer " + self.token})
        r = c.getresponse()
        if r.status != 200:
            doc = json.loads(r.read())
            c.close()
            return r.status, [doc], True
        events, buf, eof = [], b"", False
        end = time.monotonic() + secs
        try:
            while time.monotonic() < end:
                c.sock.settimeout(max(0.05, end - time.monotonic()))
                try:
                    chunk = r.read1(65536)
                except (socket.timeout, TimeoutError):
                    break
                except (http.client.IncompleteRead, ConnectionError, ssl.SSLError):
                    eof = True
                    break
                if not chunk:
                    eof = True
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        events.append(json.loads(line))
                if until is not None and until(events):
                    break
        finally:
            c.close()
        return 200, events, eof


def fault(cl, spec):
    st, _, doc = cl.req("POST", "/emulator/faults", spec)
    assert st == 200, doc
    return doc["results"][0]


def wait(pred, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


# ---------------- scenarios ----------------
