#!/usr/bin/python3
"""stall.py: a TLS client that sends admission requests on one connection
without ever reading the answers (pipelining), until the webhook stops
taking them or SECONDS pass, then reports how the connection ended.

usage: stall.py PORT CAFILE BODY SECONDS STATEDIR
Creates STATEDIR/stalled once the server stopped reading (a send timed
out), then keeps the connection open and unread until SECONDS pass, and
prints "sent N" and "closed yes|no" (whether the server closed the
connection: reading then hits EOF or a reset within 5 s)."""
import os
import socket
import ssl
import sys
import time


def main():
    port, cafile, body_path, seconds, statedir = sys.argv[1:6]
    body = open(body_path, "rb").read()
    req = (b"POST /inject HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % len(body)) + body
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    # small buffers on our side so that the stall comes soon
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    end = time.monotonic() + float(seconds)
    sent = 0
    stalled = False
    while time.monotonic() < end and sent < 20000:
        try:
            s.sendall(req)
            sent += 1
        except (socket.timeout, ssl.SSLWantWriteError):
            if not stalled:
                open(os.path.join(statedir, "stalled"), "w").close()
                stalled = True
        except OSError:
            break
    print("sent %d" % sent)
    print("stalled %s" % ("yes" if stalled else "no"))
    closed = False
    s.settimeout(5)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not s.recv(1 << 16):
                closed = True
                break
    except (OSError, ssl.SSLError):
        closed = True
    print("closed %s" % ("yes" if closed else "no"))


main()
