#!/usr/bin/python3
"""conns.py: connection pressure on the webhook, each phase bounded in time.

usage: conns.py slowpost PORT CAFILE SECONDS
    one TLS connection POSTs a 6 MiB body 4 KiB at a time for SECONDS,
    then closes without finishing it; prints "sent N".
usage: conns.py burst PORT N
    opens N plain TCP connections at once and closes them; prints
    "closed N".
usage: conns.py hold PORT CAFILE N SECONDS STATEDIR
    opens N TLS connections (handshake done, no request) and keeps them
    for SECONDS; creates STATEDIR/held once they are up; prints "held N"
    (how many handshakes succeeded)."""
import os
import socket
import ssl
import sys
import time


def tls(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def slowpost(port, cafile, seconds):
    s = tls(port, cafile)
    n = 6 << 20
    s.sendall(b"POST /inject HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n{" % n)
    sent, end = 1, time.monotonic() + seconds
    while time.monotonic() < end and sent + 4096 < n:
        s.sendall(b" " * 4096)
        sent += 4096
        time.sleep(0.05)
    print("sent %d" % sent)
    s.close()


def burst(port, n):
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5)
             for _ in range(n)]
    for s in socks:
        s.close()
    print("closed %d" % n)


def hold(port, cafile, n, seconds, statedir):
    socks = []
    for _ in range(n):
        try:
            socks.append(tls(port, cafile))
        except (OSError, ssl.SSLError):
            pass
    open(os.path.join(statedir, "held"), "w").close()
    print("held %d" % len(socks))
    sys.stdout.flush()
    time.sleep(seconds)
    for s in socks:
        s.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "slowpost":
        slowpost(port, sys.argv[3], float(sys.argv[4]))
    elif mode == "burst":
        burst(port, int(sys.argv[3]))
    elif mode == "hold":
        hold(port, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
             sys.argv[6])
    else:
        sys.exit("conns.py: unknown mode " + mode)


main()
