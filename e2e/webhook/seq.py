#!/usr/bin/python3
"""seq.py: requests in order on ONE kept-alive TLS connection, each timed.

usage: seq.py PORT CAFILE STEP...
STEP is "GET:/path" or a file to POST to /inject as application/json.
Prints "<status> <ms> <step>" per request; exit status 1 if the server
closed the connection in between (a new one would hide the problem)."""
import http.client
import ssl
import sys
import time


def main():
    port, cafile = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                       timeout=10)
    sock = None
    for step in sys.argv[3:]:
        t0 = time.monotonic()
        if step.startswith("GET:"):
            conn.request("GET", step[4:])
        else:
            body = open(step, "rb").read()
            conn.request("POST", "/inject", body=body,
                         headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        ms = (time.monotonic() - t0) * 1000
        if sock is not None and conn.sock is not sock:
            sys.exit("seq.py: the connection was replaced before " + step)
        sock = conn.sock
        print("%d %.1f %s" % (resp.status, ms, step))


main()
