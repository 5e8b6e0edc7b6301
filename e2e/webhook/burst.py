#!/usr/bin/python3
"""burst.py: several requests on one TLS connection, sent at once, then
every answer read back.

usage: burst.py PORT CAFILE STEP...
STEP is "GET:/path" or a file to POST to /inject as application/json.
Each request is its own TLS record; TCP_CORK holds them until the last is
written, so they reach the server together (one read can take several).
Prints "<status> <bytes>" per answer, in order; exit status 1 when an
answer does not come within 5 s (a server that waits for more input it
already has) or the connection ends early."""
import socket
import ssl
import sys
import time


def request(step):
    if step.startswith("GET:"):
        return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % step[4:]).encode()
    body = open(step, "rb").read()
    return (b"POST /inject HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(body)) + body


def read_answer(s, buf, deadline):
    """one HTTP answer from s (buf holds bytes already read): (status,
    body length, rest of buf)"""
    while b"\r\n\r\n" not in buf:
        buf = more(s, buf, deadline)
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(buf) < length:
        buf = more(s, buf, deadline)
    return status, length, buf[length:]


def more(s, buf, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        sys.exit("burst.py: no complete answer within 5 s")
    s.settimeout(left)
    try:
        data = s.recv(1 << 16)
    except socket.timeout:
        sys.exit("burst.py: no complete answer within 5 s")
    if not data:
        sys.exit("burst.py: the server closed the connection")
    return buf + data


def main():
    port, cafile, steps = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    for step in steps:
        s.sendall(request(step))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
    buf = b""
    deadline = time.monotonic() + 5
    for _ in steps:
        status, length, buf = read_answer(s, buf, deadline)
        print("%d %d" % (status, length))
    s.close()


main()
