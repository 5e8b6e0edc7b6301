#!/usr/bin/python3
"""stall.py: a TLS client that sends admission requests on one connection
without ever reading the answers (pipelining), until the webhook stops
taking them or SECONDS pass, then reports how the connection ended.

usage: stall.py PORT CAFILE BODY SECONDS STATEDIR
Stops sending once the server stopped reading (a send timed out) or
closed the connection (a send failed), and creates STATEDIR/stalled;
keeps the connection open and unread until SECONDS pass; then reads:
prints "sent N", "stalled yes|no" and "closed yes|no" (yes: a send
failed, or reading hit EOF or a reset within 5 s, i.e. the server closed
the connection; no: the 5 s passed with it open)."""
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
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # a small receive window, set before connecting, so the stall comes soon
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", int(port)))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.settimeout(0.5)
    end = time.monotonic() + float(seconds)
    sent = 0
    stalled = False
    reset = False
    while time.monotonic() < end and sent < 20000 and not stalled:
        try:
            s.sendall(req)
            sent += 1
        except (socket.timeout, ssl.SSLWantWriteError):
            stalled = True  # the server stopped reading
        except OSError:
            stalled = reset = True  # the server closed it while we sent
    if stalled:
        open(os.path.join(statedir, "stalled"), "w").close()
    while time.monotonic() < end:
        time.sleep(0.1)
    print("sent %d" % sent)
    print("stalled %s" % ("yes" if stalled else "no"))
    closed = reset
    if not reset:
        s.settimeout(5)
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not s.recv(1 << 16):
                    closed = True
                    break
        except socket.timeout:
            closed = False  # still open after 5 s
        except (OSError, ssl.SSLError):
            closed = True  # reset by the server
    print("closed %s" % ("yes" if closed else "no"))


main()
