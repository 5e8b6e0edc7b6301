#!/usr/bin/python3
"""ipt_probe.py: TCP listeners and a client for e2e/t_iptables_netns.sh.

  ipt_probe.py listen READYFILE PORT... [--transparent] [--v6]
      Listens on 0.0.0.0:PORT (--v6: [::]:PORT, IPv6 only) for every PORT. Each accepted connection gets
      one line and is closed:
        port=<listening port> orig=<SO_ORIGINAL_DST ip:port or none>
        local=<getsockname ip:port> from=<peer ip>
      --transparent sets IP_TRANSPARENT (TPROXY). Writes READYFILE once every
      port is bound. Runs until killed.

  ipt_probe.py connect HOST PORT [--uid U] [--gid G] [--src IP]
      HOST may be IPv6. Drops to gid/uid, optionally binds the source
      address, connects
      (3 s timeout), prints the server's line, or "ERR <reason>"; exit 0.
"""
import os
import selectors
import socket
import struct
import sys

SO_ORIGINAL_DST = 80
IP_TRANSPARENT = 19


def original_dst(conn):
    try:
        if conn.family == socket.AF_INET6:
            # IP6T_SO_ORIGINAL_DST: a sockaddr_in6
            raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
            port = struct.unpack("!H", raw[2:4])[0]
            ip = socket.inet_ntop(socket.AF_INET6, raw[8:24])
            return "[%s]:%d" % (ip, port)
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    except OSError:
        return "none"
    port = struct.unpack("!H", raw[2:4])[0]
    ip = socket.inet_ntoa(raw[4:8])
    return "%s:%d" % (ip, port)


def listen(ready, ports, transparent, v6):
    sel = selectors.DefaultSelector()
    for p in ports:
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                          socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if transparent:
            s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        s.bind(("::" if v6 else "0.0.0.0", p))
        s.listen(64)
        sel.register(s, selectors.EVENT_READ, p)
    with open(ready, "w") as f:
        f.write("ready\n")
    while True:
        for key, _ in sel.select():
            try:
                conn, peer = key.fileobj.accept()
            except OSError:
                continue
            with conn:
                local = conn.getsockname()
                line = "port=%d orig=%s local=%s:%d from=%s\n" % (
                    key.data, original_dst(conn), local[0], local[1], peer[0])
                try:
                    conn.sendall(line.encode())
                except OSError:
                    pass


def connect(host, port, uid, gid, src):
    # The owner match sees the credentials the socket was created with:
    # drop privileges first.
    if gid is not None:
        os.setgroups([])
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        if src:
            s.bind((src, 0))
        s.connect((host, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        print(data.decode().strip() or "ERR empty reply")
    except OSError as e:
        print("ERR %s" % e)
    finally:
        s.close()


def main(argv):
    if len(argv) >= 3 and argv[1] == "listen":
        transparent = "--transparent" in argv
        ports = [int(a) for a in argv[3:] if not a.startswith("--")]
        listen(argv[2], ports, transparent, "--v6" in argv)
        return 0
    if len(argv) >= 4 and argv[1] == "connect":
        opts = {"--uid": None, "--gid": None, "--src": None}
        rest = argv[4:]
        for i in range(0, len(rest) - 1, 2):
            opts[rest[i]] = rest[i + 1]
        uid = int(opts["--uid"]) if opts["--uid"] is not None else None
        gid = int(opts["--gid"]) if opts["--gid"] is not None else None
        connect(argv[2], int(argv[3]), uid, gid, opts["--src"])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
