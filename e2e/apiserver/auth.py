"""Bearer-token authentication: the admin token, extra tokens, service-account tokens."""

import threading
import time

from objects import random_token

ADMIN_GROUPS = ["system:masters", "system:authenticated"]


class Auth:
    def __init__(self, admin_token):
        self.lock = threading.Lock()
        self.tokens = {}  # token -> dict(user, uid, groups, exp (epoch or None), sa)
        self.add(admin_token, "kubernetes-admin", ADMIN_GROUPS)
        self.admin_token = admin_token

    def add(self, token, user, groups=None, ttl=None, sa=None, uid=""):
        with self.lock:
            self.tokens[token] = {"username": user, "uid": uid,
                                  "groups": list(groups or ["system:authenticated"]),
                                  "exp": time.time() + ttl if ttl else None, "sa": sa}

    def remove(self, token):
        with self.lock:
            return self.tokens.pop(token, None) is not None

    def expire_all_but_admin(self):
        with self.lock:
            for t in [t for t in self.tokens if t != self.admin_token]:
                del self.tokens[t]

    def service_account_token(self, ns, name, uid, ttl=None):
        tok = "sa-" + random_token(40)
        self.add(tok, "system:serviceaccount:%s:%s" % (ns, name),
                 ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                  "system:authenticated"], ttl=ttl, sa=(ns, name, uid), uid=uid)
        return tok

    def user_for(self, token, sa_alive=None):
        """The user info for a token, or None (unknown, expired, or its ServiceAccount is gone)."""
        if not token:
            return None
        with self.lock:
            e = self.tokens.get(token)
        if e is None:
            return None
        if e["exp"] is not None and time.time() >= e["exp"]:
            return None
        if e["sa"] is not None and sa_alive is not None and not sa_alive(*e["sa"]):
            return None
        return {"username": e["username"], "uid": e["uid"], "groups": list(e["groups"])}
