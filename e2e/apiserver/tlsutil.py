"""Serving certificate (self-signed CA via the openssl CLI) and the kubeconfig file."""

import base64
import os
import subprocess

SANS = ["DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local", "IP:127.0.0.1", "IP:::1"]


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl failed: %s: %s" % (" ".join(args),
                                                      r.stderr.decode(errors="replace")))


def make_serving_cert(d):
    """Create ca.crt/ca.key and tls.crt/tls.key in d; returns (cert, key, ca) paths."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days",
                                             "3650", "-subj", "/CN=mizzen-emulator-ca",
                                             "-addext", "basicConstraints=critical,CA:TRUE",
                                             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
         d)
    _run(["openssl", "req"] + ec + ["-keyout", "tls.key", "-out", "tls.csr", "-subj",
                                    "/CN=kube-apiserver"], d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" % ",".join(SANS))
    _run(["openssl", "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
          "-CAcreateserial", "-out", "tls.crt", "-days", "3650", "-extfile", "ext.cnf"], d)
    return os.path.join(d, "tls.crt"), os.path.join(d, "tls.key"), os.path.join(d, "ca.crt")


def issue_client_cert(d, user, groups, seq):
    """A client certificate (CN=user, O=groups) signed by the generated CA in d."""
    if not os.path.exists(os.path.join(d, "ca.key")):
        raise RuntimeError("client certificates need the generated CA (not --tls-cert)")
    name = "client%d" % seq
    subj = "/CN=%s" % user.replace("/", "")
    for g in groups or []:
        subj += "/O=%s" % g.replace("/", "")
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj], d)
    with open(os.path.join(d, name + ".cnf"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    _run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
          "-CAcreateserial", "-out", name + ".crt", "-days", "365", "-extfile", name + ".cnf"], d)
    with open(os.path.join(d, name + ".crt")) as c, open(os.path.join(d, name + ".key")) as k:
        return c.read(), k.read()


def user_from_peer_cert(cert):
    """getpeercert() dict -> user info (CN = user, O = groups), or None."""
    if not cert:
        return None
    cn, groups = None, []
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                groups.append(v)
    if not cn:
        return None
    return {"username": cn, "uid": "", "groups": groups + ["system:authenticated"]}


def write_kubeconfig(path, port, ca_pem, token, namespace="default", client=None):
    """Write a kubeconfig atomically (temp file + rename); client=(cert, key) PEMs replaces
    the token with a client certificate."""
    ca_b64 = base64.b64encode(ca_pem.encode()).decode()
    text = """apiVersion: v1
kind: Config
clusters:
- name: mizzen-emulator
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
users:
- name: mizzen-admin
  user:
    %s
contexts:
- name: mizzen-emulator
  context:
    cluster: mizzen-emulator
    user: mizzen-admin
    namespace: %s
current-context: mizzen-emulator
preferences: {}
""" % (port, ca_b64, "token: " + token if client is None else
       "client-certificate-data: %s\n    client-key-data: %s" % (
           base64.b64encode(client[0].encode()).decode(),
           base64.b64encode(client[1].encode()).decode()), namespace)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
