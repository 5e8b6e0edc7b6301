"""Fault injection rules: fail or delay a share of matching requests, for a count or a time."""

import random
import re
import threading
import time

from status import ApiError, bad_request, too_many

_REASONS = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout", 429: "TooManyRequests",
            409: "Conflict", 403: "Forbidden", 401: "Unauthorized", 404: "NotFound",
            410: "Expired", 400: "BadRequest", 422: "Invalid"}


class Rule:
    def __init__(self, spec, seq):
        self.id = seq
        self.action = spec.get("action")
        if self.action not in ("fail", "delay"):
            raise bad_request("unknown fault action %r" % self.action)
        self.code = int(spec.get("code", 500))
        self.percent = float(spec.get("percent", 100))
        self.count = spec.get("count")
        self.until = time.monotonic() + float(spec["seconds"]) if spec.get("seconds") else None
        try:
            self.path = re.compile(spec.get("path") or ".*")
        except re.error as e:
            raise bad_request("bad path regex: %s" % e)
        self.methods = [m.upper() for m in spec.get("methods") or []]
        self.verbs = list(spec.get("verbs") or [])
        self.retry_after = int(spec.get("retryAfter", 1))
        self.delay = float(spec.get("delayMs", 0)) / 1000.0
        self.message = spec.get("message")
        self.hits = 0
        self.spec = spec

    def live(self):
        if self.until is not None and time.monotonic() >= self.until:
            return False
        return self.count is None or self.count > 0

    def describe(self):
        d = dict(self.spec)
        d["id"] = self.id
        d["hits"] = self.hits
        d["remaining"] = self.count
        return d


class Faults:
    def __init__(self, seed=None):
        self.lock = threading.Lock()
        self.rules = []
        self.seq = 0
        self.rng = random.Random(seed)
        self.down_until = 0.0

    def add(self, spec):
        with self.lock:
            self.seq += 1
            r = Rule(spec, self.seq)
            self.rules.append(r)
            return r.describe()

    def clear(self):
        with self.lock:
            n = len(self.rules)
            self.rules = []
            return n

    def list(self):
        with self.lock:
            self.rules = [r for r in self.rules if r.live()]
            return [r.describe() for r in self.rules]

    def check(self, method, path, verb):
        """(delay_seconds, ApiError or None) for this request."""
        delay, err = 0.0, None
        with self.lock:
            for r in self.rules:
                if not r.live():
                    continue
                if r.methods and method not in r.methods:
                    continue
                if r.verbs and verb not in r.verbs:
                    continue
                if not r.path.search(path):
                    continue
                if r.percent < 100 and self.rng.uniform(0, 100) >= r.percent:
                    continue
                r.hits += 1
                if r.count is not None:
                    r.count -= 1
                if r.action == "delay":
                    delay += r.delay
                elif err is None:
                    err = self._error(r)
            self.rules = [r for r in self.rules if r.live()]
        return delay, err

    def _error(self, r):
        if r.code == 429:
            return too_many(r.retry_after)
        msg = r.message or {500: "Internal error occurred: injected fault",
                            503: "the server is currently unable to handle the request",
                            504: "Timeout: request did not complete within requested timeout - "
                                 "context deadline exceeded"}.get(r.code, "injected fault")
        hdr = {"Retry-After": str(r.retry_after)} if r.code == 503 or \
            "retryAfter" in r.spec else {}
        return ApiError(r.code, _REASONS.get(r.code, "InternalError"), msg, {}, hdr)
