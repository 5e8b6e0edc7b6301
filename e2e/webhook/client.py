#!/usr/bin/python3
"""client.py: one TLS connection to the webhook, driven step by step so a
test can act (swap a certificate, send SIGTERM) while it is open.

usage: client.py PORT CAFILE BODY STATEDIR MODE
MODE keepalive: POST /inject, print "serial1 <hex> status1 <code>", create
    STATEDIR/ready, wait (<= 30 s) for STATEDIR/go, POST again on the same
    connection, print "status2 <code> serial2 <hex>".
MODE inflight: send the headers and half the body, create STATEDIR/ready,
    wait for STATEDIR/go, send the rest, print "status <code>".
The serial is the one of the certificate this connection's handshake saw.
Exit status 0 when every response is 200.
"""
import http.client
import os
import ssl
import sys
import time


def wait_go(statedir):
    open(os.path.join(statedir, "ready"), "w").close()
    for _ in range(300):
        if os.path.exists(os.path.join(statedir, "go")):
            return
        time.sleep(0.1)
    sys.exit("client.py: no go after 30 s")


def serial(conn):
    der = conn.sock.getpeercert(binary_form=True)
    # the serial is the second element of TBSCertificate; let openssl say it
    import subprocess
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                          "-serial"], input=der, capture_output=True,
                         check=True).stdout.decode()
    return out.strip().split("=", 1)[1]


def main():
    port, cafile, body_path, statedir, mode = sys.argv[1:6]
    body = open(body_path, "rb").read()
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx,
                                       timeout=30)
    hdrs = {"Content-Type": "application/json"}
    ok = True
    if mode == "keepalive":
        conn.request("POST", "/inject", body=body, headers=hdrs)
        r = conn.getresponse()
        r.read()
        s1 = serial(conn)
        print("serial1 %s status1 %d" % (s1, r.status), flush=True)
        ok = r.status == 200
        wait_go(statedir)
        conn.request("POST", "/inject", body=body, headers=hdrs)
        r = conn.getresponse()
        r.read()
        print("status2 %d serial2 %s" % (r.status, serial(conn)), flush=True)
        ok = ok and r.status == 200
    elif mode == "inflight":
        conn.putrequest("POST", "/inject")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        half = len(body) // 2
        conn.send(body[:half])
        time.sleep(0.2)
        wait_go(statedir)
        conn.send(body[half:])
        r = conn.getresponse()
        r.read()
        print("status %d" % r.status, flush=True)
        ok = r.status == 200
    else:
        sys.exit("client.py: unknown mode " + mode)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
